package webhook

import (
	"context"
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
