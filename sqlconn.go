package webhook

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// The statements on the delivery path (resolution and history inserts) skip
// GORM's statement building, which costs more than SQLite takes to run them,
// and go straight to the client's connection pool, whose prepared statements
// GORM caches. They are written with "?" placeholders and portable SQL;
// rebind turns the placeholders into the dialect's own ($1 on PostgreSQL).

// placeholders knows how the dialect writes bind variables.
type placeholders struct {
	db       *gorm.DB
	identity bool // the dialect writes "?" itself
}

func newPlaceholders(db *gorm.DB) placeholders {
	var sb strings.Builder
	stmt := &gorm.Statement{DB: db}
	for range 2 {
		stmt.Vars = append(stmt.Vars, nil)
		db.Dialector.BindVarTo(&sb, stmt, nil)
	}
	return placeholders{db: db, identity: sb.String() == "??"}
}

// rebind rewrites the "?" placeholders of query for the dialect.
func (p placeholders) rebind(query string) string {
	if p.identity {
		return query
	}
	var sb strings.Builder
	sb.Grow(len(query) + 16)
	stmt := &gorm.Statement{DB: p.db}
	for {
		i := strings.IndexByte(query, '?')
		if i < 0 {
			sb.WriteString(query)
			return sb.String()
		}
		sb.WriteString(query[:i])
		stmt.Vars = append(stmt.Vars, nil)
		p.db.Dialector.BindVarTo(&sb, stmt, nil)
		query = query[i+1:]
	}
}

func (c *Client) execRaw(ctx context.Context, query string, args ...any) error {
	_, err := c.db.Statement.ConnPool.ExecContext(ctx, c.ph.rebind(query), args...)
	return err
}

// unprepared returns the pool beneath GORM's prepared-statement cache, for
// statements whose text varies with their number of rows (multi-row
// inserts, IN lists): caching those would only churn the cache.
func unprepared(pool gorm.ConnPool) gorm.ConnPool {
	switch p := pool.(type) {
	case *gorm.PreparedStmtTX:
		if tx, ok := p.Tx.(gorm.ConnPool); ok {
			return tx
		}
	case *gorm.PreparedStmtDB:
		return p.ConnPool
	}
	return pool
}

// eq is one optional "column = value" filter; an empty value does not filter.
type eq struct{ col, val string }

// equalities returns the conditions and arguments of the non-empty filters,
// in the order given, so that the same query always has the same text (the
// prepared-statement cache keys on it).
func equalities(filters ...eq) (conds []string, args []any) {
	for _, f := range filters {
		if f.val != "" {
			conds = append(conds, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	return conds, args
}

// whereEqual adds the non-empty filters to db.
func whereEqual(db *gorm.DB, filters ...eq) *gorm.DB {
	conds, args := equalities(filters...)
	for i, c := range conds {
		db = db.Where(c, args[i])
	}
	return db
}

// anyOfKeys returns "(a = ? AND b = ?) OR (...)" over distinct key tuples,
// with their arguments: one query for many keys.
func anyOfKeys(cols []string, keys [][]any) (string, []any) {
	var sb strings.Builder
	var args []any
	seen := make(map[string]bool, len(keys))
	one := "(" + strings.Join(cols, " = ? AND ") + " = ?)"
	for _, k := range keys {
		id := fmt.Sprintf("%q", k) // quoted: ("a b","c") and ("a","b c") differ
		if seen[id] {
			continue
		}
		seen[id] = true
		if sb.Len() > 0 {
			sb.WriteString(" OR ")
		}
		sb.WriteString(one)
		args = append(args, k...)
	}
	return sb.String(), args
}

// inIDs returns the condition that col is one of ids (with not: none of
// them), and its arguments. ids are int64 values; there is at least one.
// On PostgreSQL the ids travel as one array literal, so that the
// statement's text does not change with their number: the driver prepares
// each distinct text and keeps it, and a list of parameters would make
// every batch size a statement of its own to parse and plan. Elsewhere it
// is a list of parameters.
func (c *Client) inIDs(col string, ids []any, not bool) (string, []any) {
	if c.db.Dialector.Name() != dialectPostgres {
		if not {
			return col + " NOT IN (" + marks(len(ids)) + ")", ids
		}
		return col + " IN (" + marks(len(ids)) + ")", ids
	}
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '{')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		switch v := id.(type) {
		case int64:
			b = strconv.AppendInt(b, v, 10)
		default:
			b = fmt.Append(b, v)
		}
	}
	b = append(b, '}')
	if not {
		return col + " <> ALL(CAST(? AS bigint[]))", []any{string(b)}
	}
	return col + " = ANY(CAST(? AS bigint[]))", []any{string(b)}
}

// pgTextArray writes s as a PostgreSQL array literal of text, for a
// parameter cast to text[]: a plain string, which every driver sends as
// is (pgx would also take a []string, lib/pq would not).
func pgTextArray(s []string) string {
	n := 2
	for _, v := range s {
		n += len(v) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, v[j])
		}
		b = append(b, '"')
	}
	return string(append(b, '}'))
}

// anys is s as arguments of a statement.
func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
