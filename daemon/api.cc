#include "daemon/api.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>  // before asio: boost 1.74 uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <filesystem>
#include <regex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/text.h"
#include "daemon/runner.h"

namespace mig::daemon {

namespace {

using json = nlohmann::json;

HttpResponse Reply(int status, const std::string& message, json extra = json::object()) {
  json j = {{"code", status}, {"message", message}};
  j.update(extra);
  return {status, j.dump(-1, ' ', false, json::error_handler_t::replace)};
}

// A backup's timestamp as a request names it (2026-11-30t21-00-00): never an option or a path
// once it is on a command line.
std::string Timestamp(const std::string& t) {
  static const std::regex re(R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}t[0-9]{2}-[0-9]{2}-[0-9]{2}$)");
  if (!std::regex_match(t, re)) BadInput("\"" + t.substr(0, 64) + "\" is not a backup's timestamp (2026-11-30t21-00-00)");
  return t;
}

// Prophecy's status words.
std::string Word(const std::string& status) {
  if (status == "ready") return "Success";
  if (status == "running") return "Running";
  return "Failed";
}


std::map<std::string, std::string> Query(const std::string& q) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= q.size() && !q.empty()) {
    size_t amp = q.find('&', pos);
    std::string kv = q.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    size_t eq = kv.find('=');
    if (!kv.empty())
      out[PercentDecode(kv.substr(0, eq), true)] = eq == std::string::npos ? "" : PercentDecode(kv.substr(eq + 1), true);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

// The token a request carries: Authorization: Bearer T, or the cookie migrate-token / prophecy-token.
std::optional<std::string> TokenOf(const HttpRequest& r) {
  if (auto a = r.headers.find("authorization"); a != r.headers.end() && a->second.rfind("Bearer ", 0) == 0)
    return a->second.substr(7);
  if (auto c = r.headers.find("cookie"); c != r.headers.end()) {
    std::string rest = c->second;
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t semi = rest.find(';', pos);
      std::string item = rest.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
      pos = semi == std::string::npos ? rest.size() : semi + 1;
      item.erase(0, item.find_first_not_of(' '));
      for (const char* name : {"migrate-token=", "prophecy-token="})
        if (item.rfind(name, 0) == 0) return item.substr(std::strlen(name));
    }
  }
  return std::nullopt;
}

bool SameToken(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

json ToBackupConfig(const BackupConfig& b) {
  return {{"enableRegularBackups", b.enableRegularBackups},
          {"backupFrequency", b.backupFrequency},
          {"backupRetentionCount", b.backupRetentionCount},
          {"suspend", b.suspend},
          {"timezone", b.timezone}};
}

// setConfig's body -> the changes, as YAML values; a wrong key or type is bad input.
std::vector<ConfigChange> Changes(const json& body) {
  if (!body.is_object() || !body.contains("backupConfig") || !body["backupConfig"].is_object())
    BadInput("the body must be {\"backupConfig\": {...}}");
  std::vector<ConfigChange> out;
  for (const auto& [key, v] : body["backupConfig"].items()) {
    if (key == "enableRegularBackups" || key == "suspend") {
      if (!v.is_boolean()) BadInput(key + " must be true or false");
      out.push_back({key, v.get<bool>() ? "true" : "false"});
    } else if (key == "backupRetentionCount") {
      if (!v.is_number_integer()) BadInput(key + " must be a whole number");
      out.push_back({key, std::to_string(v.get<int64_t>())});
    } else if (key == "backupFrequency" || key == "timezone") {
      if (!v.is_string()) BadInput(key + " must be text");
      out.push_back({key, json(v.get<std::string>()).dump()});  // a JSON string is a YAML string
    } else {
      BadInput("unknown key \"" + key +
               "\" in backupConfig (its keys: enableRegularBackups, backupFrequency, backupRetentionCount, "
               "suspend, timezone)");
    }
  }
  return out;
}

}  // namespace

std::string LoadOrMakeToken(const std::string& path) {
  if (auto t = ReadSmallFile(path, 4096)) {
    const std::string token = TrimEnd(*t);
    if (token.size() < 16) BadInput("the token in " + path + " is shorter than 16 characters");
    return token;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) Fail("no random bytes for a token (OpenSSL RAND_bytes)");
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char c : raw) token += hex[c >> 4], token += hex[c & 15];
  WriteFileAtomic(path, token + "\n", 0600);
  TheLog().info("made a new API token in " + path);
  return token;
}

Api::Api(Daemon& daemon, std::string token, Cli cli) : daemon_(daemon), token_(std::move(token)), cli_(std::move(cli)) {}

HttpResponse Api::Handle(const HttpRequest& r) {
  try {
    auto token = TokenOf(r);
    if (!token) return Reply(401, "unauthorized: give the token (Authorization: Bearer TOKEN)");
    if (!SameToken(*token, token_)) return Reply(403, "forbidden");
    const size_t q = r.target.find('?');
    const std::string path = r.target.substr(0, q);
    return Route(r, path, Query(q == std::string::npos ? "" : r.target.substr(q + 1)));
  } catch (const Error& e) {
    return Reply(e.kind() == ErrorKind::kFailed ? 500 : 400, e.what());
  } catch (const std::exception& e) {
    return Reply(500, e.what());
  } catch (...) {
    return Reply(500, "an unexpected error");
  }
}

HttpResponse Api::Route(const HttpRequest& r, const std::string& path, const std::map<std::string, std::string>& query) {
  auto arg = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  auto body = [&] {
    if (r.body.empty()) return json::object();
    try {
      return json::parse(r.body);
    } catch (const json::exception& e) {
      BadInput(std::string("the body is not JSON: ") + e.what());
    }
  };
  auto cli_json = [&](std::vector<std::string> args) {
    auto [code, out] = cli_(args);
    if (code == 2) BadInput("migrate " + args[0] + " " + args[1] + ": " + out);
    if (code != 0) Fail("migrate " + args[0] + " " + args[1] + ": " + (out.empty() ? "failed" : out));
    try {
      return json::parse(out);
    } catch (const json::exception&) {
      Fail("migrate " + args[0] + " " + args[1] + " answered no JSON");
    }
  };
  auto one = [&](const json& e) {
    json d = {{"timestamp", e.value("timestamp", "")}, {"status", Word(e.value("status", ""))},
              {"id", e.value("id", "")},               {"name", e.value("name", "")},
              {"version", e.value("version", "")},     {"bytes", e.value("bytes", 0)}};
    if (!e.value("error", "").empty()) d["error"] = e["error"];
    return d;
  };
  const std::string& m = r.method;
  if (path == "/api/backup" && m == "POST") {
    json b = body();
    if (!b.is_object()) BadInput("the body must be {} or {\"name\": \"...\"}");
    const std::string name = b.contains("name") && b["name"].is_string() ? b["name"].get<std::string>() : "";
    Answer a = daemon_.RequestBackup(name);
    if (a.busy) return Reply(409, "Conflict: " + a.error, {{"timestamp", a.timestamp}});
    if (!a.accepted) return Reply(500, a.error);
    return Reply(202, "Request Accepted with timestamp " + a.timestamp, {{"timestamp", a.timestamp}});
  }
  if ((path == "/api/backup" && m == "DELETE") || (path == "/api/backup/delete" && m == "GET")) {
    if (arg("timestamp").empty()) BadInput("which backup: ?timestamp=T");
    const std::string ts = Timestamp(arg("timestamp"));
    if (auto run = daemon_.Running(); run && run->second == ts) return Reply(409, "Conflict: it is running");
    cli_json({"backup", "delete", ts, "--json"});
    return Reply(200, "Deleted backup " + ts, {{"timestamp", ts}});
  }
  if (path == "/api/backup/list" && m == "GET") {
    json list = json::array();
    for (const auto& e : cli_json({"backup", "list", "--json"})) list.push_back(one(e));
    return {200, json{{"data", {{"backup-list", list}}}}.dump()};
  }
  if ((path == "/api/backup/latest" || path == "/api/backup/status") && m == "GET") {
    std::string which = path == "/api/backup/latest" ? "" : arg("timestamp");
    if (which.empty() && path == "/api/backup/status") {
      auto run = daemon_.Running();
      if (!run || run->first != "backup") return Reply(404, "no backup is running; ask for one: ?timestamp=T");
      which = run->second;
    }
    json list = cli_json({"backup", "list", "--json"});
    for (const auto& e : list)
      if (which.empty() || e.value("timestamp", "") == which) return {200, json{{"data", one(e)}}.dump()};
    return Reply(404, which.empty() ? "no backup yet" : "no backup " + which);
  }
  if (path == "/api/restore" && m == "POST") {
    json b = body();
    if (!b.is_object() || !b.contains("timestamp") || !b["timestamp"].is_string())
      BadInput("the body must be {\"timestamp\": T, \"svcs\": {\"SERVICE\": {\"disable\": true}}}");
    std::vector<std::string> skip;
    if (b.contains("svcs")) {
      if (!b["svcs"].is_object()) BadInput("svcs must be an object of services");
      for (const auto& [svc, v] : b["svcs"].items())
        if (v.is_object() && v.value("disable", false)) skip.push_back(svc);
    }
    const std::string ts = Timestamp(b["timestamp"].get<std::string>());
    Answer a = daemon_.RequestRestore(ts, skip);
    if (a.busy) return Reply(409, "Conflict: " + a.error, {{"timestamp", a.timestamp}});
    if (!a.accepted) return Reply(500, a.error);
    return Reply(202, "Request Accepted with timestamp " + ts, {{"timestamp", ts}});
  }
  if (path == "/api/restore/status" && m == "GET") {
    std::string ts = arg("timestamp");
    if (ts.empty()) {  // the ongoing one
      auto run = daemon_.Running();
      if (!run || run->first != "restore") return Reply(404, "no restore is running; ask for one: ?timestamp=T");
      ts = run->second;
    }
    const std::string st = daemon_.RestoreStatus(ts);
    if (st.empty()) return Reply(404, "no restore of " + ts + " was asked of this daemon");
    return {200, json{{"data", {{"timestamp", ts}, {"status", Word(st)}}}}.dump()};
  }
  if (path == "/api/feature/getConfig" && m == "GET") {
    if (arg("configType") != "backup") BadInput("configType must be backup");
    return {200, json{{"data", {{"backupConfig", ToBackupConfig(daemon_.backup_config())}}}}.dump()};
  }
  if (path == "/api/feature/setConfig" && m == "POST") {
    if (arg("configType") != "backup") BadInput("configType must be backup");
    daemon_.SetBackupConfig(Changes(body()));
    return Reply(200, "backupConfig changed", {{"data", {{"backupConfig", ToBackupConfig(daemon_.backup_config())}}}});
  }
  for (const char* known : {"/api/backup", "/api/backup/list", "/api/backup/latest", "/api/backup/status",
                            "/api/backup/delete", "/api/restore", "/api/restore/status", "/api/feature/getConfig",
                            "/api/feature/setConfig"})
    if (path == known) return Reply(405, "method " + m + " not allowed on " + path);
  return Reply(404, "no such path: " + path);
}

}  // namespace mig::daemon

// ---- the server: Boost.Beast, one short-lived thread per connection

namespace mig::daemon {

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::atomic<int> g_connections{0};

// How long a client may take: to send its request (the TLS handshake included), to read the
// answer, to answer the close_notify.
constexpr std::chrono::seconds kArrival(10), kDelivery(10), kClosing(2);

// Shuts a connection's socket down when a step (the TLS handshake and the request's arrival,
// the answer's delivery) has not ended in time: Asio's blocking calls wait past SO_RCVTIMEO,
// and no client may hold a connection open.
// It shuts down a duplicate of the descriptor, held until it ends: never another connection's
// socket that took the number after this one was closed.
class Deadline {
 public:
  Deadline(int fd, std::chrono::seconds limit) : fd_(::dup(fd)), watchdog_([this, limit] {
      std::unique_lock<std::mutex> g(mu_);
      if (!cv_.wait_for(g, limit, [this] { return done_; }) && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    }) {}
  void Met() {
    {
      std::lock_guard<std::mutex> g(mu_);
      done_ = true;
    }
    cv_.notify_all();
  }
  ~Deadline() {
    Met();
    watchdog_.join();
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  const int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread watchdog_;
};

// Reads one request from `stream` (within `arrival`'s limit), answers it.
// `refusal`: the answer to any request (a plain HTTP request on the TLS port: 400 saying so).
template <typename Stream>
void Converse(Api& api, Stream& stream, int fd, Deadline& arrival, const std::string& refusal = "") {
  boost::beast::flat_buffer buf(16 * 1024);
  http::response<http::string_body> res;
  res.version(11);
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  boost::system::error_code ec;
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  http::read(stream, buf, parser, ec);
  arrival.Met();  // the request is in: answering may take as long as the job's program
  if (ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset) return;
    const bool too_big = ec == http::error::body_limit || ec == http::error::header_limit ||
                         ec == http::error::buffer_overflow;
    res.result(too_big ? 413 : 400);
    res.body() = nlohmann::json{{"code", too_big ? 413 : 400},
                                {"message", too_big ? "the request is too large" : "not an HTTP request"}}.dump();
  } else {
    const auto& req = parser.get();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.body = req.body();
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r.headers[name] = std::string(f.value());
    }
    HttpResponse out = refusal.empty() ? api.Handle(r) : Reply(400, refusal);
    res.result(out.status);
    res.body() = out.body + "\n";
  }
  res.prepare_payload();
  Deadline delivery(fd, kDelivery);  // a client that does not read is let go
  http::write(stream, res, ec);
}

// One connection, on a thread of its own: plain, or TLS when `tls` is given.
template <typename Socket>
void Connection(Api& api, Socket socket, asio::ssl::context* tls) {
  const int fd = socket.native_handle();
  boost::system::error_code ec;
  Deadline arrival(fd, kArrival);
  if (!tls) {
    Converse(api, socket, fd, arrival);
    socket.shutdown(asio::socket_base::shutdown_both, ec);
    return;
  }
  unsigned char first = 0;  // a TLS connection opens with a handshake record (0x16)
  if (::recv(fd, &first, 1, MSG_PEEK) == 1 && first != 0x16) {
    Converse(api, socket, fd, arrival, "this port speaks TLS: use https://");
    socket.shutdown(asio::socket_base::shutdown_both, ec);
    return;
  }
  asio::ssl::stream<Socket> stream(std::move(socket), *tls);
  stream.handshake(asio::ssl::stream_base::server, ec);
  if (ec) return;  // plain HTTP, a scanner, a client that does not trust the certificate
  Converse(api, stream, fd, arrival);
  Deadline closing(fd, kClosing);
  stream.shutdown(ec);  // close_notify; a client that never answers it is not waited for
  stream.next_layer().shutdown(asio::socket_base::shutdown_both, ec);
}

template <typename Acceptor>
void AcceptLoop(Api& api, Acceptor& acceptor, asio::ssl::context* tls, const std::atomic<bool>& stop) {
  acceptor.non_blocking(true);
  while (!stop) {
    pollfd p{acceptor.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    boost::system::error_code ec;
    auto socket = acceptor.accept(ec);
    if (ec) continue;
    socket.non_blocking(false);
    if (g_connections >= 16) {  // busy: refused at once, never queued
      const std::string busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      if (!tls) asio::write(socket, asio::buffer(busy), ec);  // (a TLS client is just closed)
      continue;
    }
    ++g_connections;
    try {
      std::thread([&api, tls, s = std::move(socket)]() mutable {
        try {
          Connection(api, std::move(s), tls);  // the socket is closed when it returns
        } catch (...) {  // a connection's trouble is never the daemon's
        }
        --g_connections;  // counted by this loop before the thread started
      }).detach();
    } catch (const std::system_error&) {  // no thread to be had: this connection is dropped
      --g_connections;
    }
  }
  // Every answer in flight ends before the daemon (and this io_context) goes: they use both.
  while (g_connections > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

}  // namespace

struct TlsServer {
  asio::ssl::context context{asio::ssl::context::tls_server};
};

std::shared_ptr<TlsServer> LoadTls(const std::string& cert, const std::string& key) {
  auto t = std::make_shared<TlsServer>();
  auto& c = t->context;
  c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  auto why = [](const boost::system::system_error& e) {
    std::string s = e.code().message();
    return s.empty() || s == "Success" ? std::string("not a PEM certificate or key") : s;
  };
  for (const auto* f : {&cert, &key})
    if (::access(f->c_str(), R_OK) != 0)
      BadInput(std::string(f == &cert ? "tls_cert " : "tls_key ") + *f + " cannot be read: " + ErrnoString());
  try {
    c.use_certificate_chain_file(cert);
  } catch (const boost::system::system_error& e) {
    BadInput("tls_cert " + cert + " cannot be used: " + why(e) + " (a PEM certificate chain, readable by the daemon)");
  }
  try {
    c.use_private_key_file(key, asio::ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    if (e.code().message().find("mismatch") != std::string::npos)
      BadInput("tls_key " + key + " is not the key of the certificate in tls_cert " + cert);
    BadInput("tls_key " + key + " cannot be used: " + why(e) + " (a PEM private key, readable by the daemon)");
  }
  if (SSL_CTX_check_private_key(c.native_handle()) != 1)
    BadInput("tls_key " + key + " is not the key of the certificate in tls_cert " + cert);
  return t;
}

void Serve(Api& api, const Listen& listen, TlsServer* tls, const std::atomic<bool>& stop) {
  asio::io_context io;
  auto* ctx = tls ? &tls->context : nullptr;
  const std::string scheme = tls ? " (TLS)" : "";
  try {
    if (!listen.socket.empty()) {
      std::error_code fec;
      if (std::filesystem::is_socket(listen.socket, fec)) std::filesystem::remove(listen.socket, fec);
      asio::local::stream_protocol::acceptor acceptor(io, asio::local::stream_protocol::endpoint(listen.socket));
      ::chmod(listen.socket.c_str(), 0600);
      TheLog().info("API listening on " + listen.socket + scheme);
      AcceptLoop(api, acceptor, ctx, stop);
      return;
    }
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(listen.host, std::to_string(listen.port));
    asio::ip::tcp::acceptor acceptor(io);
    const auto ep = endpoints.begin()->endpoint();
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    TheLog().info("API listening on " + listen.text() + scheme);
    AcceptLoop(api, acceptor, ctx, stop);
  } catch (const boost::system::system_error& e) {
    Fail("cannot listen on " + listen.text() + ": " + e.code().message());
  }
}

}  // namespace mig::daemon
