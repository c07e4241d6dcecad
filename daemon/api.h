// The daemon's REST API (docs/daemon.md "API"): Prophecy's paths and JSON shapes, so that its
// documented curl and jq lines work with our URL and token. Routing and auth take plain values
// (Handle), the server (Serve) only moves bytes.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "daemon/config.h"

namespace mig::daemon {

class Daemon;

struct HttpRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // names in lower case
};

struct HttpResponse {
  int status = 200;
  std::string body;  // JSON
};

// The token in `path`, made (32 random bytes, hex, mode 0600) when the file is absent.
std::string LoadOrMakeToken(const std::string& path);

class Api {
 public:
  // `cli`: runs this program with arguments and returns its exit code and stdout (the
  // listing and status answers are `migrate backup list|status --json`).
  using Cli = std::function<std::pair<int, std::string>(const std::vector<std::string>& args)>;
  Api(Daemon& daemon, std::string token, Cli cli);
  // Never throws: a handler's failure is a 500 with one sentence.
  HttpResponse Handle(const HttpRequest& r);

 private:
  HttpResponse Route(const HttpRequest& r, const std::string& path, const std::map<std::string, std::string>& query);
  Daemon& daemon_;
  std::string token_;
  Cli cli_;
};

// The TLS side of the server: a certificate chain and its key (PEM), TLS 1.2 or newer.
struct TlsServer;
// Loads tls_cert and tls_key; throws mig::Error (bad input) naming the file and the reason
// when one cannot be read or the key is not the certificate's.
std::shared_ptr<TlsServer> LoadTls(const std::string& cert, const std::string& key);

// Serves `api` on `listen` (TCP, or a unix socket made 0600; over TLS when `tls`) until `stop`
// is set; requests bounded (64 KiB body, 8 KiB of headers, 10 s to arrive, 10 s for the answer
// to be read), at most 16 connections at once. Throws mig::Error when it cannot listen.
void Serve(Api& api, const Listen& listen, TlsServer* tls, const std::atomic<bool>& stop);

}  // namespace mig::daemon
