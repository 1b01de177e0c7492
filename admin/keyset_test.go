package admin_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
	"gorm.io/gorm"
)

var (
	deliveryRowRE = regexp.MustCompile(`<tr id="d-([A-Za-z0-9_-]+)"`)
	newerRE       = regexp.MustCompile(`<a class="button secondary newer" rel="prev" href="([^"]+)"`)
	newestRE      = regexp.MustCompile(`<a class="button secondary newest" href="([^"]+)"`)
)

// listing is one page of a keyset-paginated list as the admin served it.
type listing struct {
	path                string
	ids                 []int64
	older, newer, first string // the links, "" when absent
}

// fetchPage loads a list page and reads its row ids (matched by rowRE) and
// its pagination links, checking that they are keyset links.
func fetchPage(t *testing.T, s *site, path string, rowRE *regexp.Regexp) listing {
	t.Helper()
	r := s.get(path)
	wantStatus(t, r, http.StatusOK)
	l := listing{path: path}
	for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		l.ids = append(l.ids, id)
	}
	for i := 1; i < len(l.ids); i++ {
		if l.ids[i] >= l.ids[i-1] {
			t.Fatalf("%s: ids not newest first: %v", path, l.ids)
		}
	}
	link := func(re *regexp.Regexp, param string) string {
		m := re.FindStringSubmatch(r.body)
		if m == nil {
			return ""
		}
		u := html.UnescapeString(m[1])
		if strings.Contains(u, "offset") || strings.Contains(u, "page=") {
			t.Fatalf("%s: link %q is not a keyset link", path, u)
		}
		if param != "" && !strings.Contains(u, param+"=") {
			t.Fatalf("%s: link %q lacks %s=", path, u, param)
		}
		return u
	}
	l.older = link(olderRE, "before")
	l.newer = link(newerRE, "after")
	l.first = link(newestRE, "")
	if strings.Contains(l.first, "before=") || strings.Contains(l.first, "after=") || strings.Contains(l.first, "cursor=") {
		t.Fatalf("%s: Newest link %q is not the first page", path, l.first)
	}
	return l
}

// walkOlder follows the "Older" links from first and returns every page.
func walkOlder(t *testing.T, s *site, first string, pageSize int, rowRE *regexp.Regexp) []listing {
	t.Helper()
	var pages []listing
	for next := first; next != ""; {
		if len(pages) > 200 {
			t.Fatal("more than 200 pages: the Older links loop")
		}
		p := fetchPage(t, s, next, rowRE)
		if len(p.ids) > pageSize {
			t.Fatalf("%s: %d rows, more than %d", next, len(p.ids), pageSize)
		}
		if p.older != "" && len(p.ids) != pageSize {
			t.Fatalf("%s: %d rows and an Older link", next, len(p.ids))
		}
		if len(pages) > 0 && len(p.ids) > 0 && p.ids[0] >= slices.Min(pages[len(pages)-1].ids) {
			t.Fatalf("%s: page overlaps the previous one", next)
		}
		pages = append(pages, p)
		next = p.older
	}
	return pages
}

// allIDs concatenates the ids of pages and checks none repeats.
func allIDs(t *testing.T, pages []listing) []int64 {
	t.Helper()
	var ids []int64
	seen := map[int64]bool{}
	for _, p := range pages {
		for _, id := range p.ids {
			if seen[id] {
				t.Fatalf("id %d listed twice (page %s)", id, p.path)
			}
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// checkOlderThenNewer walks a deliveries listing down with "Older", then
// back up with "Newer" from the last page, and checks that each Newer page
// is the Older page it came from, ids for ids, and that "Older" from a Newer
// page leads to the same page again.
func checkOlderThenNewer(t *testing.T, s *site, first string, pageSize, wantRows int) {
	t.Helper()
	down := walkOlder(t, s, first, pageSize, rowIDRE)
	if got := len(allIDs(t, down)); got != wantRows {
		t.Fatalf("%s: the Older pages list %d rows, want %d", first, got, wantRows)
	}
	if wantPages := max(1, (wantRows+pageSize-1)/pageSize); len(down) != wantPages {
		t.Fatalf("%s: %d pages, want %d", first, len(down), wantPages)
	}
	if down[0].newer != "" || down[0].first != "" {
		t.Errorf("%s: the newest page offers Newer %q / Newest %q", first, down[0].newer, down[0].first)
	}
	for i, p := range down[1:] {
		if p.first == "" {
			t.Errorf("page %d (%s) has no Newest link", i+2, p.path)
		}
		if p.newer == "" {
			t.Fatalf("page %d (%s) has no Newer link", i+2, p.path)
		}
	}
	// Up again, from the oldest page.
	cur := down[len(down)-1]
	for i := len(down) - 2; i >= 0; i-- {
		up := fetchPage(t, s, cur.newer, rowIDRE)
		if !slices.Equal(up.ids, down[i].ids) {
			t.Fatalf("Newer from page %d (%s) lists %v,\nwant page %d: %v", i+2, cur.newer, up.ids, i+1, down[i].ids)
		}
		if (up.newer != "") != (i > 0) {
			t.Errorf("Newer page %d (%s): Newer link %q", i+1, cur.newer, up.newer)
		}
		if up.first == "" {
			t.Errorf("Newer page %d (%s) has no Newest link", i+1, cur.newer)
		}
		// And Older from there is the page we came from.
		if up.older == "" {
			t.Fatalf("Newer page %d (%s) has no Older link", i+1, cur.newer)
		}
		back := fetchPage(t, s, up.older, rowIDRE)
		if !slices.Equal(back.ids, down[i+1].ids) {
			t.Fatalf("Older from the Newer page %d lists %v, want %v", i+1, back.ids, down[i+1].ids)
		}
		cur = up
	}
}

func TestNewerLinks(t *testing.T) {
	const n, pageSize = 1234, 100
	c, db := newClient(t, webhook.Config{})
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	insertHistory(t, db, n, start)
	s := newSite(t, c, admin.Options{PageSize: pageSize})

	checkOlderThenNewer(t, s, "/admin/attempts", pageSize, n)
	// The filters travel with the Newer links too: only the failed rows.
	checkOlderThenNewer(t, s, "/admin/attempts?success=no&webhook=wh_bulk&scope=biz:biz1", pageSize, (n+2)/3)
	checkOlderThenNewer(t, s, "/admin/attempts?success=no&status=500", pageSize, (n+2)/3)
	// A single page: no link at all.
	one := fetchPage(t, s, "/attempts?delivery=bulk-7", rowIDRE)
	if len(one.ids) != 1 || one.older != "" || one.newer != "" || one.first != "" {
		t.Errorf("single page: %+v", one)
	}

	// Rows arrive while the operator pages: Newer from page 2 is still page
	// 1, and page 1 now offers a Newer link to the new rows.
	page1 := fetchPage(t, s, "/attempts", rowIDRE)
	page2 := fetchPage(t, s, page1.older, rowIDRE)
	insertHistory(t, db, 30, start.Add(time.Hour)) // ids n+1..n+30
	up := fetchPage(t, s, page2.newer, rowIDRE)
	if !slices.Equal(up.ids, page1.ids) {
		t.Fatalf("after new rows, Newer from page 2 lists %v, want %v", up.ids, page1.ids)
	}
	if up.newer == "" {
		t.Fatal("page 1 offers no Newer link to the 30 new rows")
	}
	top := fetchPage(t, s, up.newer, rowIDRE)
	if len(top.ids) != 30 || top.ids[0] != n+30 || top.ids[29] != n+1 || top.newer != "" || top.older == "" {
		t.Fatalf("the newest rows page: %+v", top)
	}
	if back := fetchPage(t, s, top.older, rowIDRE); !slices.Equal(back.ids, page1.ids) {
		t.Fatalf("Older from the new rows lists %v, want %v", back.ids, page1.ids)
	}

	// A before id above every row is the newest page: no Newer link.
	high := fetchPage(t, s, "/attempts?before=999999", rowIDRE)
	if len(high.ids) != pageSize || high.ids[0] != n+30 || high.newer != "" || high.older == "" {
		t.Errorf("before=999999: %d rows from %v, Newer %q", len(high.ids), high.ids[:1], high.newer)
	}
	// An after id at the top: an empty page that leads back to the newest.
	r := s.get("/attempts?after=" + strconv.Itoa(n+30))
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "No attempt matches on this page.", "« Newest")
	wantNotContains(t, r, "Newer", "Older »")
	// The newest page of all, reached by after=, has no Newer link.
	last := fetchPage(t, s, "/attempts?after="+strconv.Itoa(n+30-5), rowIDRE)
	if !slices.Equal(last.ids, []int64{n + 30, n + 29, n + 28, n + 27, n + 26}) || last.newer != "" || last.older == "" {
		t.Errorf("after=%d: %+v", n+30-5, last)
	}

	for _, p := range []string{"/attempts?after=0", "/attempts?after=-4", "/attempts?after=x", "/attempts?after=99999999999999999999",
		"/attempts?before=10&after=5"} {
		r := s.get(p)
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, "Bad request")
	}
}

// insertOutbox writes outbox rows in multi-row INSERTs, n of each status
// in counts; every fourth row of a status is a template_create, the others
// template_update. Ids are in insertion order.
func insertOutbox(t *testing.T, db *gorm.DB, counts []statusCount) {
	t.Helper()
	const batch = 400
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	type row struct {
		status string
		i      int
	}
	var rows []row
	for _, sc := range counts {
		for i := range sc.n {
			rows = append(rows, row{sc.status, i})
		}
	}
	err := db.Transaction(func(tx *gorm.DB) error {
		for lo := 0; lo < len(rows); lo += batch {
			hi := min(lo+batch, len(rows))
			var sb strings.Builder
			sb.WriteString("INSERT INTO webhook_delivery (delivery_id, event_code, scope_type, scope_code, webhook_code, payload, status, attempts, next_attempt_at, created_at) VALUES ")
			args := make([]any, 0, (hi-lo)*10)
			for k := lo; k < hi; k++ {
				if k > lo {
					sb.WriteString(",")
				}
				sb.WriteString("(?,?,?,?,?,?,?,?,?,?)")
				ev := "template_update"
				if rows[k].i%4 == 0 {
					ev = "template_create"
				}
				at := now.Add(time.Duration(k) * time.Second)
				args = append(args, "ob-"+strconv.Itoa(k), ev, "biz", "biz1", "wh_bulk", `{"code":"`+ev+`"}`,
					rows[k].status, 1, at.Add(24*time.Hour), at)
			}
			if err := tx.Exec(sb.String(), args...).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inserting outbox rows: %v", err)
	}
}

type statusCount struct {
	status string
	n      int
}

// deliveryPage is one page of the deliveries list as the admin served it.
type deliveryPage struct {
	path          string
	cursors       []string // the rows' cursors, in order
	older, newest string
	newer         bool
}

// fetchDeliveries loads a page of the deliveries list, checking that its
// links are keyset links (an opaque cursor, never an offset) and that it
// offers no Newer link (the library's cursor goes one way).
func fetchDeliveries(t *testing.T, s *site, path string) deliveryPage {
	t.Helper()
	r := s.get(path)
	wantStatus(t, r, http.StatusOK)
	p := deliveryPage{path: path}
	for _, m := range deliveryRowRE.FindAllStringSubmatch(r.body, -1) {
		p.cursors = append(p.cursors, m[1])
	}
	if m := olderRE.FindStringSubmatch(r.body); m != nil {
		p.older = html.UnescapeString(m[1])
		if !strings.Contains(p.older, "cursor=") || strings.Contains(p.older, "offset") || strings.Contains(p.older, "page=") || strings.Contains(p.older, "before=") {
			t.Fatalf("%s: Older link %q is not a cursor link", path, p.older)
		}
	}
	if m := newestRE.FindStringSubmatch(r.body); m != nil {
		p.newest = html.UnescapeString(m[1])
		if strings.Contains(p.newest, "cursor=") {
			t.Fatalf("%s: Newest link %q is not the first page", path, p.newest)
		}
	}
	p.newer = newerRE.MatchString(r.body)
	return p
}

// walkDeliveries follows the "Older" links from first and returns every
// page, checking their sizes and that no row is listed twice.
func walkDeliveries(t *testing.T, s *site, first string, pageSize int) []deliveryPage {
	t.Helper()
	var pages []deliveryPage
	seen := map[string]bool{}
	for next := first; next != ""; {
		if len(pages) > 200 {
			t.Fatal("more than 200 pages: the Older links loop")
		}
		p := fetchDeliveries(t, s, next)
		if len(p.cursors) > pageSize {
			t.Fatalf("%s: %d rows, more than %d", next, len(p.cursors), pageSize)
		}
		if p.older != "" && len(p.cursors) != pageSize {
			t.Fatalf("%s: %d rows and an Older link", next, len(p.cursors))
		}
		for _, c := range p.cursors {
			if seen[c] {
				t.Fatalf("%s: row %s listed twice", next, c)
			}
			seen[c] = true
		}
		pages = append(pages, p)
		next = p.older
	}
	return pages
}

// libraryCursors lists the cursors of every delivery the library returns
// for q, newest first, following its own cursors.
func libraryCursors(t *testing.T, c *webhook.Client, q webhook.DeliveryQuery) []string {
	t.Helper()
	var out []string
	q.Limit = 700
	for {
		ds, err := c.Deliveries(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			out = append(out, d.Cursor)
		}
		if len(ds) < q.Limit {
			return out
		}
		q.Cursor = ds[len(ds)-1].Cursor
	}
}

// TestDeliveriesPaging walks the deliveries list, queued and broadcast
// deliveries together (some created at the same instant), page by page
// with its cursor, and checks that the pages list exactly what the library
// lists, in its order, for each filter; the old outbox view is the list
// with queued=1.
func TestDeliveriesPaging(t *testing.T) {
	const pageSize, sent = 100, 650
	c, db := newClient(t, webhook.Config{})
	insertOutbox(t, db, []statusCount{{webhook.StatusPending, 1500}, {webhook.StatusFailed, 250}, {webhook.StatusSucceeded, 60}, {webhook.StatusCancelled, 7}})
	// Deliveries sent by Broadcast (first attempts in history) at the same
	// instants as the first outbox rows: every third one failed.
	insertHistory(t, db, sent, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	s := newSite(t, c, admin.Options{PageSize: pageSize})

	sentFailed := (sent + 2) / 3
	for _, tc := range []struct {
		path string
		q    webhook.DeliveryQuery
		want int
	}{
		{"/deliveries", webhook.DeliveryQuery{}, 1817 + sent},
		{"/deliveries?queued=1", webhook.DeliveryQuery{QueuedOnly: true}, 1817},
		{"/deliveries?status=pending", webhook.DeliveryQuery{Status: webhook.StatusPending}, 1500},
		{"/deliveries?status=failed", webhook.DeliveryQuery{Status: webhook.StatusFailed}, 250 + sentFailed},
		{"/deliveries?status=failed&queued=1", webhook.DeliveryQuery{Status: webhook.StatusFailed, QueuedOnly: true}, 250},
		{"/deliveries?status=succeeded", webhook.DeliveryQuery{Status: webhook.StatusSucceeded}, 60 + sent - sentFailed},
		{"/deliveries?queued=1&event=template_create", webhook.DeliveryQuery{QueuedOnly: true, EventCode: "template_create"}, 375 + 63 + 15 + 2},
		{"/deliveries?queued=1&status=failed&event=template_update&scope=biz:biz1&webhook=wh_bulk",
			webhook.DeliveryQuery{QueuedOnly: true, Status: webhook.StatusFailed, EventCode: "template_update", ScopeType: "biz", ScopeCode: "biz1", WebhookCode: "wh_bulk"}, 250 - 63},
		{"/deliveries?status=cancelled", webhook.DeliveryQuery{Status: webhook.StatusCancelled}, 7},
		{"/deliveries?since=2024-06-01T00:05&until=2024-06-01T00:10", webhook.DeliveryQuery{
			Since: time.Date(2024, 6, 1, 0, 5, 0, 0, time.UTC), Until: time.Date(2024, 6, 1, 0, 10, 0, 0, time.UTC)}, 2 * 300},
		{"/deliveries?event=nope", webhook.DeliveryQuery{EventCode: "nope"}, 0},
	} {
		pages := walkDeliveries(t, s, tc.path, pageSize)
		var got []string
		for _, p := range pages {
			got = append(got, p.cursors...)
		}
		if len(got) != tc.want {
			t.Fatalf("%s: the pages list %d rows, want %d", tc.path, len(got), tc.want)
		}
		if want := libraryCursors(t, c, tc.q); !slices.Equal(got, want) {
			t.Fatalf("%s: the pages list other rows than the library, or in another order", tc.path)
		}
		if wantPages := max(1, (tc.want+pageSize-1)/pageSize); len(pages) != wantPages {
			t.Errorf("%s: %d pages, want %d", tc.path, len(pages), wantPages)
		}
		if pages[0].newest != "" {
			t.Errorf("%s: the first page offers a Newest link", tc.path)
		}
		for i, p := range pages {
			if p.newer {
				t.Errorf("%s: page %d offers a Newer link", tc.path, i+1)
			}
			if i == 0 {
				continue
			}
			if p.newest == "" {
				t.Errorf("%s: page %d has no Newest link", tc.path, i+1)
			} else if !slices.Equal(fetchDeliveries(t, s, p.newest).cursors, pages[0].cursors) {
				t.Errorf("%s: the Newest link of page %d is not the first page", tc.path, i+1)
			}
		}
	}

	// The old outbox address leads to the queued deliveries, filters kept.
	r := s.get("/outbox?status=failed&event=template_create&cursor=x")
	wantStatus(t, r, http.StatusPermanentRedirect)
	if loc := r.Header.Get("Location"); loc != "/admin/deliveries?cursor=x&event=template_create&queued=1&status=failed" {
		t.Errorf("/outbox: Location %q", loc)
	}
	// The filters are kept in the form and the rows match them.
	r = s.get("/deliveries?queued=1&status=failed&event=template_create")
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, `<option value="template_create" selected>`, `<option value="failed" selected>`, `name="queued" value="1" checked`,
		"template_create", "100 per page", `<span class="tag queued"`)
	wantNotContains(t, r, ">template_update<", "status-pending", `<span class="tag sent"`)
	// A page past the oldest row.
	all := libraryCursors(t, c, webhook.DeliveryQuery{})
	r = s.get("/deliveries?cursor=" + all[len(all)-1])
	wantStatus(t, r, http.StatusOK)
	wantContains(t, r, "No delivery matches on this page.", "« Newest")
	for _, p := range []string{"/deliveries?cursor=0", "/deliveries?cursor=-1", "/deliveries?cursor=abc", "/deliveries?event=" + strings.Repeat("e", 300)} {
		r := s.get(p)
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r, "Bad request")
	}
	wantContains(t, s.get("/deliveries?cursor=abc"), "start again from the newest deliveries")
}

func TestOverviewExactOutboxCounts(t *testing.T) {
	c, db := newClient(t, webhook.Config{})
	s := newSite(t, c, admin.Options{})
	r := s.get("/")
	wantStatus(t, r, http.StatusOK)
	wantCard(t, r.body, "pending-card", "Outbox 0 pending deliveries", "/admin/deliveries?queued=1&status=pending", false)
	wantCard(t, r.body, "failed-card", "Failed 0 deliveries out of retries", "/admin/deliveries?queued=1&status=failed", false)

	insertOutbox(t, db, []statusCount{{webhook.StatusPending, 1500}, {webhook.StatusFailed, 1234}, {webhook.StatusSucceeded, 2001}})
	r = s.get("/")
	wantStatus(t, r, http.StatusOK)
	wantCard(t, r.body, "pending-card", "Outbox 1500 pending deliveries", "/admin/deliveries?queued=1&status=pending", false)
	wantCard(t, r.body, "failed-card", "Failed 1234 deliveries out of retries", "/admin/deliveries?queued=1&status=failed", true)
	wantNotContains(t, r, "1000+", "+</span>")

	// The numbers follow the outbox.
	if err := db.Exec("UPDATE webhook_delivery SET status = ? WHERE id IN (SELECT id FROM webhook_delivery WHERE status = ? LIMIT 3)",
		webhook.StatusCancelled, webhook.StatusPending).Error; err != nil {
		t.Fatal(err)
	}
	wantCard(t, s.get("/").body, "pending-card", "Outbox 1497 pending deliveries", "/admin/deliveries?queued=1&status=pending", false)
}
