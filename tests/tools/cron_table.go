// Generates tests/data/cron/robfig_table.tsv: next fire times of 6-field cron expressions as
// robfig/cron v3 computes them (the library Prophecy's backupFrequency names), the oracle of
// daemon/cron's tests. Run (Debian: golang-go, golang-github-robfig-cron-dev):
//   GO111MODULE=off GOPATH=/usr/share/gocode go run tests/tools/cron_table.go > tests/data/cron/robfig_table.tsv
// Lines: EXPR<TAB>ZONE<TAB>START<TAB>NEXT,NEXT,... (unix seconds; 0: none within five years),
// or EXPR<TAB>error (the library refuses it).
package main

import (
	"fmt"
	"math/rand"
	"strings"
	"time"

	cron "github.com/robfig/cron"
)

var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

var handPicked = []string{
	"0 0 0 * * *", "* * * * * *", "*/5 * * * * *", "0 */15 * * * *", "30 30 2 * * *", "0 30 2 * * *",
	"0 0 2 * * *", "0 0 3 * * *", "0 59 1 * * *", "0 0 0 29 2 *", "0 0 0 31 * *", "0 0 12 * * mon-fri",
	"0 0 12 * * MON,wed,Fri", "0 0 0 1 jan-mar ?", "0 0 0 ? * sun", "0 0 0 13 * fri", "0 0 0 1,15 * 1",
	"5/20 * * * * *", "0 5-10/2 * * * *", "0 0 0 L * *", "0 0 0 * * 7", "60 * * * * *", "* 60 * * * *",
	"* * 24 * * *", "* * * 0 * *", "* * * 32 * *", "* * * * 0 *", "* * * * 13 *", "* * * * * 8",
	"0 0 0 * *", "0 0 0 * * * *", "@daily", "a * * * * *", "*/0 * * * * *", "5-1 * * * * *",
	"1-2-3 * * * * *", "1/2/3 * * * * *", "-1 * * * * *", "0 0 0 30 2 *", "0 0 0 31 4,6,9,11 *",
	"0 0 1 * * ?", "0 0 0,12 * * *", "15,45 * * * * *", "0 0 */6 * * *", "0 0 0 */7 * *",
	"0 0 0 1 */3 *", "0 0 4 * * sat,sun", "0 0 0 * * 0-6/2", "0 0 0 * FEB *", "0 30 1 * * *",
	"0 0 1 * * *", "0 15 2 * * *", "0 45 2 * * *", "0 0 0 * * 0", "*/1 * * * * *", "1/1 * * * * *",
	"0 0 0 * * */1", "0 0 0 * * */2", " 0 0 0 * * * ", "0  0 0 * * *", "0 0 0 * * ,", "0 0 0 * * 1,",
}

func randomField(r *rand.Rand, min, max int, names []string) string {
	one := func() string {
		v := min + r.Intn(max-min+1)
		if names != nil && r.Intn(3) == 0 {
			return names[v-min]
		}
		return fmt.Sprint(v)
	}
	switch r.Intn(8) {
	case 0, 1:
		return "*"
	case 2:
		return one()
	case 3:
		a, b := min+r.Intn(max-min+1), min+r.Intn(max-min+1)
		if a > b {
			a, b = b, a
		}
		return fmt.Sprintf("%d-%d", a, b)
	case 4:
		return fmt.Sprintf("*/%d", 1+r.Intn(max-min+1))
	case 5:
		a, b := min+r.Intn(max-min+1), min+r.Intn(max-min+1)
		if a > b {
			a, b = b, a
		}
		return fmt.Sprintf("%d-%d/%d", a, b, 1+r.Intn(5))
	case 6:
		return fmt.Sprintf("%d/%d", min+r.Intn(max-min+1), 1+r.Intn(10))
	default:
		return one() + "," + one()
	}
}

var months = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var days = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func main() {
	r := rand.New(rand.NewSource(20261201))
	exprs := append([]string{}, handPicked...)
	for i := 0; i < 150; i++ {
		f := []string{randomField(r, 0, 59, nil), randomField(r, 0, 59, nil), randomField(r, 0, 23, nil),
			randomField(r, 1, 31, nil), randomField(r, 1, 12, months), randomField(r, 0, 6, days)}
		if r.Intn(4) == 0 {
			f[3] = "?"
		}
		exprs = append(exprs, strings.Join(f, " "))
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "America/Sao_Paulo", "Australia/Lord_Howe"}
	starts := []time.Time{
		time.Date(2026, 12, 1, 9, 30, 15, 500, time.UTC),
		time.Date(2027, 3, 27, 23, 59, 59, 0, time.UTC),  // Berlin spring forward 2027-03-28
		time.Date(2027, 10, 30, 23, 0, 0, 0, time.UTC),   // Berlin fall back 2027-10-31
		time.Date(2027, 3, 14, 5, 0, 0, 0, time.UTC),     // New York spring forward 2027-03-14
		time.Date(2027, 11, 7, 4, 30, 0, 0, time.UTC),    // New York fall back 2027-11-07
		time.Date(2018, 11, 3, 12, 0, 0, 0, time.UTC),    // Sao Paulo: midnight skipped 2018-11-04
		time.Date(2027, 4, 3, 14, 0, 0, 0, time.UTC),     // Lord Howe: half an hour back 2027-04-04
		time.Date(2028, 2, 28, 23, 59, 59, 0, time.UTC),  // leap day
		time.Date(2026, 12, 31, 23, 59, 59, 999, time.UTC),
	}
	for _, e := range exprs {
		s, err := parser.Parse(e)
		if err != nil {
			fmt.Printf("%s\terror\n", e)
			continue
		}
		spec := s.(*cron.SpecSchedule)
		for _, zn := range zones {
			loc, err := time.LoadLocation(zn)
			if err != nil {
				panic(err)
			}
			spec.Location = loc
			for _, st := range starts {
				var out []string
				t := st
				for i := 0; i < 4; i++ {
					t = spec.Next(t)
					if t.IsZero() {
						out = append(out, "0")
						break
					}
					out = append(out, fmt.Sprint(t.Unix()))
				}
				fmt.Printf("%s\t%s\t%d.%09d\t%s\n", e, zn, st.Unix(), st.Nanosecond(), strings.Join(out, ","))
			}
		}
	}
}
