package admin_test

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
	"gorm.io/gorm"
)

// insertHistory writes n history rows in multi-row INSERTs; every third row
// failed. It returns nothing: ids are 1..n in a fresh table.
func insertHistory(t *testing.T, db *gorm.DB, n int, start time.Time) {
	t.Helper()
	const batch = 500
	err := db.Transaction(func(tx *gorm.DB) error {
		for lo := 0; lo < n; lo += batch {
			hi := min(lo+batch, n)
			var sb strings.Builder
			sb.WriteString("INSERT INTO webhook_history (webhook_code, event_code, created_at, success, status_code, delivery_id, scope_type, scope_code, extra_info, attempt) VALUES ")
			args := make([]any, 0, (hi-lo)*10)
			for i := lo; i < hi; i++ {
				if i > lo {
					sb.WriteString(",")
				}
				sb.WriteString("(?,?,?,?,?,?,?,?,?,?)")
				success := i%3 != 0
				status := 200
				if !success {
					status = 500
				}
				args = append(args, "wh_bulk", "template_update", start.Add(time.Duration(i)*time.Second), success, status,
					"bulk-"+strconv.Itoa(i), "biz", "biz1", `{"request":{"url":"http://127.0.0.1/hook","method":"POST"}}`, 1)
			}
			if err := tx.Exec(sb.String(), args...).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inserting history: %v", err)
	}
}

var (
	rowIDRE = regexp.MustCompile(`<tr id="h-(\d+)"`)
	olderRE = regexp.MustCompile(`<a class="button secondary older" rel="next" href="([^"]+)"`)
)

// walk follows the "Older" links from first and returns the row ids in the
// order the pages listed them, and the number of pages.
func walk(t *testing.T, s *site, first string, pageSize int) ([]int64, int) {
	t.Helper()
	var ids []int64
	pages := 0
	next := first
	for next != "" {
		pages++
		if pages > 100 {
			t.Fatal("more than 100 pages: the Older links loop")
		}
		r := s.get(next)
		wantStatus(t, r, http.StatusOK)
		rows := rowIDRE.FindAllStringSubmatch(r.body, -1)
		if len(rows) > pageSize {
			t.Fatalf("page %d has %d rows, more than %d", pages, len(rows), pageSize)
		}
		for _, m := range rows {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			ids = append(ids, id)
		}
		next = ""
		if m := olderRE.FindStringSubmatch(r.body); m != nil {
			next = html.UnescapeString(m[1])
			if !strings.Contains(next, "before=") || strings.Contains(next, "offset") || strings.Contains(next, "page=") {
				t.Fatalf("Older link %q is not a keyset link", next)
			}
			if len(rows) != pageSize {
				t.Fatalf("page %d has %d rows and an Older link", pages, len(rows))
			}
		}
	}
	return ids, pages
}

func TestPaginationPast10000Rows(t *testing.T) {
	const n = 10050
	c, db := newClient(t, webhook.Config{})
	insertHistory(t, db, n, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newSite(t, c, admin.Options{PageSize: 500})

	ids, pages := walk(t, s, "/admin/attempts", 500)
	if pages != 21 {
		t.Errorf("%d pages, want 21", pages)
	}
	if len(ids) != n {
		t.Fatalf("saw %d rows, want %d", len(ids), n)
	}
	seen := map[int64]bool{}
	for i, id := range ids {
		if seen[id] {
			t.Fatalf("id %d seen twice", id)
		}
		seen[id] = true
		if i > 0 && id >= ids[i-1] {
			t.Fatalf("ids not descending at %d: %d after %d", i, id, ids[i-1])
		}
	}
	if ids[0] != n || ids[len(ids)-1] != 1 {
		t.Errorf("first id %d, last %d", ids[0], ids[len(ids)-1])
	}

	// The filters travel with the Older links: only the failed rows.
	failed, _ := walk(t, s, "/admin/attempts?success=no&webhook=wh_bulk&scope=biz:biz1", 500)
	if len(failed) != (n+2)/3 {
		t.Fatalf("saw %d failed rows, want %d", len(failed), (n+2)/3)
	}
	for i, id := range failed {
		if (id-1)%3 != 0 { // row i (0-based) is id i+1; every third failed
			t.Fatalf("row %d (id %d) is not a failed one", i, id)
		}
	}

	// A page in the middle starts right below its before id, and offers the
	// way back to the newest.
	r := s.get("/attempts?before=5001")
	wantStatus(t, r, http.StatusOK)
	m := rowIDRE.FindStringSubmatch(r.body)
	if m == nil || m[1] != "5000" {
		t.Fatalf("first row after before=5001: %v", m)
	}
	wantContains(t, r, "« Newest")
}
