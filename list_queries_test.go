package webhook

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The operator tools' lists (Deliveries, History) and summaries
// (HourlyHistory, WebhookStats) against references computed here, in Go,
// from the rows written: whatever index and plan a query takes, it returns
// what the listing's definition says, page after page.

// listFixture is a mix of outbox rows and history rows written directly:
// three scopes, two webhooks each (those of one scope deleted), two events, every status, creation times
// shared by several rows (ties), broadcast deliveries of one to three
// attempts, and broadcast deliveries redelivered through the outbox since.
type listFixture struct {
	c        *Client
	base     time.Time
	outbox   []deliveryRow
	history  []historyRow
	expected []refDelivery // the whole listing, in order
}

// refDelivery is a delivery as the listing defines it.
type refDelivery struct {
	created                     time.Time
	queued                      bool
	id                          int64 // outbox row, or first attempt's history row
	deliveryID, scopeCode, hook string
	event, status               string
}

func newListFixture(t *testing.T, tdb *testDB) *listFixture {
	t.Helper()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	f := &listFixture{c: newTestClient(t, tdb, Config{Now: func() time.Time { return base.Add(48 * time.Hour) }}), base: base}
	db := f.c.DB()
	// Webhooks of scopes s0 and s1; those of s2 are known only from
	// history (deleted since).
	for i := range 4 {
		if err := db.Create(&webhookRow{Code: fmt.Sprintf("h%d", i%2), Name: "n", Endpoint: "http://x/", ScopeType: "biz", ScopeCode: fmt.Sprintf("s%d", i/2),
			Method: "POST", EnableWebhook: true}).Error; err != nil {
			t.Fatal(err)
		}
	}
	statuses := []string{StatusSucceeded, StatusFailed, StatusPending, StatusSucceeded, StatusCancelled, StatusSucceeded, StatusFailed}
	// Outbox: 70 deliveries, three to an instant.
	for i := range 70 {
		at := base.Add(time.Duration(i/3) * time.Minute)
		st := statuses[i%len(statuses)]
		r := deliveryRow{
			DeliveryID: fmt.Sprintf("q%02d", i), EventCode: fmt.Sprintf("e%d", i%2), ScopeType: "biz", ScopeCode: fmt.Sprintf("s%d", i%3),
			WebhookCode: fmt.Sprintf("h%d", i/3%2), Payload: []byte(`{}`), Status: st, NextAttemptAt: at.Add(time.Hour), CreatedAt: at,
		}
		if st != StatusPending {
			done := at.Add(time.Second)
			r.FinishedAt, r.NextAttemptAt = &done, done
		}
		if err := db.Create(&r).Error; err != nil {
			t.Fatal(err)
		}
		f.outbox = append(f.outbox, r)
	}
	// History: 50 broadcast deliveries, some at the outbox's instants; the
	// queued ones' attempts; three broadcasts redelivered since.
	var rows []historyRow
	for i := range 50 {
		at := base.Add(time.Duration(i*7/5) * time.Minute)
		attempts := 1 + i%3
		for a := 1; a <= attempts; a++ {
			code := 200
			if a < attempts || i%4 == 0 { // retried until the last attempt; one in four fails throughout
				code = 500
			}
			rows = append(rows, historyRow{
				WebhookCode: fmt.Sprintf("h%d", i%2), EventCode: fmt.Sprintf("e%d", i/2%2), CreatedAt: at.Add(time.Duration(a-1) * time.Second),
				Success: code == 200, StatusCode: &code, DeliveryID: fmt.Sprintf("b%02d", i), ScopeType: "biz", ScopeCode: fmt.Sprintf("s%d", i%3),
				Attempt: a,
			})
		}
	}
	for i, r := range f.outbox {
		if r.Status == StatusPending || r.Status == StatusCancelled {
			continue
		}
		code := 200
		if r.Status == StatusFailed {
			code = 500
		}
		rows = append(rows, historyRow{WebhookCode: r.WebhookCode, EventCode: r.EventCode, CreatedAt: r.CreatedAt.Add(time.Second),
			Success: code == 200, StatusCode: &code, DeliveryID: r.DeliveryID, ScopeType: r.ScopeType, ScopeCode: r.ScopeCode,
			Attempt: 1 + i%2, Queued: true})
	}
	// Shuffled, so that ids do not follow creation times.
	for i := range rows {
		j := (i * 37) % len(rows)
		rows[i], rows[j] = rows[j], rows[i]
	}
	for i := range rows {
		if err := db.Create(&rows[i]).Error; err != nil {
			t.Fatal(err)
		}
	}
	f.history = rows
	for _, id := range []string{"b03", "b10", "b44"} {
		for _, r := range rows {
			if r.DeliveryID == id && r.Attempt == 1 {
				at := base.Add(30 * time.Hour)
				if err := db.Create(&deliveryRow{DeliveryID: id, EventCode: r.EventCode, ScopeType: r.ScopeType, ScopeCode: r.ScopeCode,
					WebhookCode: r.WebhookCode, Payload: []byte(`{}`), Status: StatusPending, NextAttemptAt: at, CreatedAt: at}).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := db.Order("id").Find(&f.outbox).Error; err != nil {
		t.Fatal(err)
	}
	f.expected = f.reference()
	return f
}

// reference is the listing by its definition: every outbox row, and every
// broadcast delivery (from its attempts) that the outbox does not hold;
// newest first, queued before broadcast at the same instant, then by id.
func (f *listFixture) reference() []refDelivery {
	var out []refDelivery
	inOutbox := map[string]bool{}
	for _, r := range f.outbox {
		inOutbox[r.DeliveryID+"/"+r.ScopeCode+"/"+r.WebhookCode] = true
		out = append(out, refDelivery{created: r.CreatedAt, queued: true, id: r.ID, deliveryID: r.DeliveryID, scopeCode: r.ScopeCode,
			hook: r.WebhookCode, event: r.EventCode, status: r.Status})
	}
	byKey := map[string][]historyRow{}
	for _, r := range f.history {
		if !r.Queued {
			k := r.DeliveryID + "/" + r.ScopeCode + "/" + r.WebhookCode
			byKey[k] = append(byKey[k], r)
		}
	}
	for k, rows := range byKey {
		if inOutbox[k] {
			continue
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
		first := rows[slices.IndexFunc(rows, func(r historyRow) bool { return r.Attempt == 1 })]
		last := rows[len(rows)-1]
		d := refDelivery{created: first.CreatedAt, id: first.ID, deliveryID: first.DeliveryID, scopeCode: first.ScopeCode,
			hook: first.WebhookCode, event: first.EventCode, status: StatusFailed}
		if last.Success {
			d.status = StatusSucceeded
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.created.Equal(b.created) {
			return a.created.After(b.created)
		}
		if a.queued != b.queued {
			return a.queued
		}
		return a.id > b.id
	})
	return out
}

func (d refDelivery) String() string {
	kind := "b"
	if d.queued {
		kind = "q"
	}
	return fmt.Sprintf("%s:%s/%s/%s:%s", kind, d.deliveryID, d.scopeCode, d.hook, d.status)
}

func deliveryString(d Delivery) string {
	kind := "b"
	if d.Queued {
		kind = "q"
	}
	return fmt.Sprintf("%s:%s/%s/%s:%s", kind, d.DeliveryID, d.ScopeCode, d.WebhookCode, d.Status)
}

// testDeliveriesPagesMatchTheReference walks Deliveries page after page,
// for every filter and several page sizes, and compares with the
// reference listing.
func testDeliveriesPagesMatchTheReference(t *testing.T, tdb *testDB) {
	f := newListFixture(t, tdb)
	ctx := testCtx(t)
	since := f.base.Add(40 * time.Minute)
	until := f.base.Add(70 * time.Minute)
	filters := map[string]struct {
		q    DeliveryQuery
		keep func(refDelivery) bool
	}{
		"none":           {DeliveryQuery{}, func(refDelivery) bool { return true }},
		"queued":         {DeliveryQuery{QueuedOnly: true}, func(d refDelivery) bool { return d.queued }},
		"event":          {DeliveryQuery{EventCode: "e1"}, func(d refDelivery) bool { return d.event == "e1" }},
		"scope":          {DeliveryQuery{ScopeType: "biz", ScopeCode: "s1"}, func(d refDelivery) bool { return d.scopeCode == "s1" }},
		"webhook code":   {DeliveryQuery{WebhookCode: "h0"}, func(d refDelivery) bool { return d.hook == "h0" }},
		"webhook":        {DeliveryQuery{ScopeType: "biz", ScopeCode: "s2", WebhookCode: "h1"}, func(d refDelivery) bool { return d.scopeCode == "s2" && d.hook == "h1" }},
		"since, until":   {DeliveryQuery{Since: since, Until: until}, func(d refDelivery) bool { return !d.created.Before(since) && d.created.Before(until) }},
		"event, failed":  {DeliveryQuery{EventCode: "e0", Status: StatusFailed}, func(d refDelivery) bool { return d.event == "e0" && d.status == StatusFailed }},
		"scope, pending": {DeliveryQuery{ScopeType: "biz", ScopeCode: "s0", Status: StatusPending}, func(d refDelivery) bool { return d.scopeCode == "s0" && d.status == StatusPending }},
		"webhook, failed": {DeliveryQuery{ScopeType: "biz", ScopeCode: "s1", WebhookCode: "h0", Status: StatusFailed}, func(d refDelivery) bool {
			return d.scopeCode == "s1" && d.hook == "h0" && d.status == StatusFailed
		}},
		"webhook, failed, since": {DeliveryQuery{ScopeType: "biz", ScopeCode: "s1", WebhookCode: "h0", Status: StatusFailed, Since: since}, func(d refDelivery) bool {
			return d.scopeCode == "s1" && d.hook == "h0" && d.status == StatusFailed && !d.created.Before(since)
		}},
		"webhook, pending": {DeliveryQuery{ScopeType: "biz", ScopeCode: "s2", WebhookCode: "h1", Status: StatusPending}, func(d refDelivery) bool {
			return d.scopeCode == "s2" && d.hook == "h1" && d.status == StatusPending
		}},
		"queued, failed": {DeliveryQuery{QueuedOnly: true, Status: StatusFailed}, func(d refDelivery) bool { return d.queued && d.status == StatusFailed }},
		"one delivery":   {DeliveryQuery{DeliveryID: "b10"}, func(d refDelivery) bool { return d.deliveryID == "b10" }},
	}
	for _, st := range []string{StatusPending, StatusSucceeded, StatusFailed, StatusCancelled} {
		filters["status "+st] = struct {
			q    DeliveryQuery
			keep func(refDelivery) bool
		}{DeliveryQuery{Status: st}, func(d refDelivery) bool { return d.status == st }}
	}
	for name, tc := range filters {
		var want []string
		for _, d := range f.expected {
			if tc.keep(d) {
				want = append(want, d.String())
			}
		}
		if len(want) == 0 && name != "scope, pending" {
			t.Fatalf("%s: the fixture has no such deliveries", name)
		}
		for _, size := range []int{1, 3, 7, 200} {
			var got []string
			q := tc.q
			q.Limit = size
			for range 300 {
				page, err := f.c.Deliveries(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range page {
					got = append(got, deliveryString(d))
				}
				if len(page) < size {
					break
				}
				q.Cursor = page[len(page)-1].Cursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, pages of %d:\ngot  %s\nwant %s", name, size, strings.Join(got, " "), strings.Join(want, " "))
			}
		}
	}
}

// testHistoryPagesMatchTheReference walks History both ways for each
// filter and compares with the rows written, newest (highest id) first.
func testHistoryPagesMatchTheReference(t *testing.T, tdb *testDB) {
	f := newListFixture(t, tdb)
	ctx := testCtx(t)
	var all []historyRow
	if err := f.c.DB().Order("id DESC").Find(&all).Error; err != nil {
		t.Fatal(err)
	}
	no, yes := false, true
	since := f.base.Add(30 * time.Minute)
	filters := map[string]struct {
		q    HistoryQuery
		keep func(historyRow) bool
	}{
		"none":              {HistoryQuery{}, func(historyRow) bool { return true }},
		"failures":          {HistoryQuery{Success: &no}, func(r historyRow) bool { return !r.Success }},
		"successes":         {HistoryQuery{Success: &yes}, func(r historyRow) bool { return r.Success }},
		"failures since":    {HistoryQuery{Success: &no, Since: since}, func(r historyRow) bool { return !r.Success && !r.CreatedAt.Before(since) }},
		"until":             {HistoryQuery{Until: since}, func(r historyRow) bool { return r.CreatedAt.Before(since) }},
		"webhook":           {HistoryQuery{ScopeType: "biz", ScopeCode: "s1", WebhookCode: "h0"}, func(r historyRow) bool { return r.ScopeCode == "s1" && r.WebhookCode == "h0" }},
		"webhook code":      {HistoryQuery{WebhookCode: "h1"}, func(r historyRow) bool { return r.WebhookCode == "h1" }},
		"scope":             {HistoryQuery{ScopeType: "biz", ScopeCode: "s2"}, func(r historyRow) bool { return r.ScopeCode == "s2" }},
		"event":             {HistoryQuery{EventCode: "e1"}, func(r historyRow) bool { return r.EventCode == "e1" }},
		"event, failures":   {HistoryQuery{EventCode: "e0", Success: &no}, func(r historyRow) bool { return r.EventCode == "e0" && !r.Success }},
		"status code":       {HistoryQuery{StatusCode: 500}, func(r historyRow) bool { return r.StatusCode != nil && *r.StatusCode == 500 }},
		"one delivery":      {HistoryQuery{DeliveryID: "b07"}, func(r historyRow) bool { return r.DeliveryID == "b07" }},
		"webhook, failures": {HistoryQuery{ScopeType: "biz", ScopeCode: "s0", WebhookCode: "h0", Success: &no}, func(r historyRow) bool { return r.ScopeCode == "s0" && r.WebhookCode == "h0" && !r.Success }},
	}
	for name, tc := range filters {
		var want []int64
		for _, r := range all {
			if tc.keep(r) {
				want = append(want, r.ID)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: the fixture has no such rows", name)
		}
		for _, size := range []int{1, 4, 500} {
			// Older pages from the newest, then newer pages back from the
			// oldest.
			var older []int64
			q := tc.q
			q.Limit = size
			for range 300 {
				page, err := f.c.History(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				older = append(older, ids(page)...)
				if len(page) < size {
					break
				}
				q.BeforeID = page[len(page)-1].ID
			}
			if !slices.Equal(older, want) {
				t.Errorf("%s, older pages of %d:\ngot  %v\nwant %v", name, size, older, want)
			}
			var newer []int64
			q = tc.q
			q.Limit, q.AfterID = size, want[len(want)-1]
			newer = append(newer, want[len(want)-1])
			for range 300 {
				page, err := f.c.History(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				newer = append(ids(page), newer...)
				if len(page) < size {
					break
				}
				q.AfterID = page[0].ID
			}
			if !slices.Equal(newer, want) {
				t.Errorf("%s, newer pages of %d:\ngot  %v\nwant %v", name, size, newer, want)
			}
		}
	}
}

// testSummariesMatchTheReference: HourlyHistory and WebhookStats count
// what the history rows of their window say.
func testSummariesMatchTheReference(t *testing.T, tdb *testDB) {
	f := newListFixture(t, tdb)
	ctx := testCtx(t)
	since := f.base.Add(20 * time.Minute)
	type agg struct {
		attempts, failures int
		last               historyRow
	}
	hours := map[time.Time]*agg{}
	hooks := map[string]*agg{}
	add := func(a *agg, r historyRow) {
		a.attempts++
		if !r.Success {
			a.failures++
		}
		if r.ID > a.last.ID {
			a.last = r
		}
	}
	for _, r := range f.history {
		// HourlyHistory counts whole hours, from the one since falls in.
		if h := r.CreatedAt.Truncate(time.Hour); !h.Before(since.Truncate(time.Hour)) {
			if hours[h] == nil {
				hours[h] = &agg{}
			}
			add(hours[h], r)
		}
		if k := r.ScopeCode + "/" + r.WebhookCode; !r.CreatedAt.Before(since) {
			if hooks[k] == nil {
				hooks[k] = &agg{}
			}
			add(hooks[k], r)
		}
	}
	counts, err := f.c.HourlyHistory(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	want := int(f.c.now().Sub(since.Truncate(time.Hour))/time.Hour) + 1
	if len(counts) != want {
		t.Errorf("HourlyHistory: %d hours, want %d", len(counts), want)
	}
	for _, hc := range counts {
		a := hours[hc.Hour]
		if a == nil {
			a = &agg{}
		}
		if hc.Attempts != a.attempts || hc.Failures != a.failures {
			t.Errorf("HourlyHistory %s: %d attempts, %d failures; want %d, %d", hc.Hour, hc.Attempts, hc.Failures, a.attempts, a.failures)
		}
	}
	stats, err := f.c.WebhookStats(ctx, since)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != len(hooks) {
		t.Errorf("WebhookStats: %d webhooks, want %d", len(stats), len(hooks))
	}
	for i, s := range stats {
		a := hooks[s.Scope.Code+"/"+s.WebhookCode]
		if a == nil {
			t.Errorf("WebhookStats lists %s %s, which has no history since %s", s.Scope, s.WebhookCode, since)
			continue
		}
		if s.Attempts != a.attempts || s.Failures != a.failures || !s.LastAt.Equal(a.last.CreatedAt) || s.LastSuccess != a.last.Success || s.LastStatusCode != *a.last.StatusCode {
			t.Errorf("WebhookStats %s %s = %+v; want %d attempts, %d failures, last %+v", s.Scope, s.WebhookCode, s, a.attempts, a.failures, a.last)
		}
		if i > 0 && stats[i-1].Scope.String()+" "+stats[i-1].WebhookCode >= s.Scope.String()+" "+s.WebhookCode {
			t.Errorf("WebhookStats is not ordered by scope and code at %d", i)
		}
	}
}
