package webhook

import (
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Everything that depends on the database dialect lives here; the rest of
// the library writes portable SQL.

const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "postgres"
)

// migrationLockKey is the PostgreSQL advisory lock that serialises Migrate
// across instances ("webhook" in ASCII).
const migrationLockKey int64 = 0x776562686f6f6b

// lockMigrations serialises concurrent Migrate calls within tx where the
// database offers a lock for it. Elsewhere Migrate retries instead.
func lockMigrations(tx *gorm.DB) error {
	if tx.Dialector.Name() == dialectPostgres {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLockKey).Error; err != nil {
			return fmt.Errorf("webhook: migrate: taking the migration lock: %w", err)
		}
	}
	return nil
}

// indexColumns returns the indexes of table as a map from comma-joined
// column list to index name, or nil where the dialect is not known (then
// indexes are recognised by name only).
func indexColumns(db *gorm.DB, table string) (map[string]string, error) {
	type idx struct {
		Name    string
		Columns string
	}
	var rows []idx
	switch db.Dialector.Name() {
	case dialectSQLite:
		var names []string
		if err := db.Raw("SELECT name FROM pragma_index_list(?)", table).Scan(&names).Error; err != nil {
			return nil, err
		}
		for _, n := range names {
			var cols []string
			if err := db.Raw("SELECT name FROM pragma_index_info(?) ORDER BY seqno", n).Scan(&cols).Error; err != nil {
				return nil, err
			}
			rows = append(rows, idx{n, strings.Join(cols, ",")})
		}
	case dialectPostgres:
		err := db.Raw(`SELECT i.relname AS name,
				string_agg(a.attname, ',' ORDER BY k.ord) AS columns
			FROM pg_index x
			JOIN pg_class t ON t.oid = x.indrelid
			JOIN pg_class i ON i.oid = x.indexrelid
			JOIN pg_namespace n ON n.oid = t.relnamespace
			CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
			JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
			WHERE t.relname = ? AND n.nspname = current_schema()
			AND NOT EXISTS (SELECT 1 FROM pg_opclass o WHERE o.oid = ANY(x.indclass) AND o.opcname LIKE '%pattern_ops')
			GROUP BY i.relname`, table).Scan(&rows).Error
		if err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.Columns] = r.Name
	}
	return out, nil
}

// compositeIndex is an index over several columns that Django names by
// truncating to the dialect's identifier limit: the full name on SQLite, a
// shortened one on PostgreSQL (63 bytes) and MySQL (64).
type compositeIndex struct {
	table, long, short string
	columns            []string
}

func (ci compositeIndex) name(dialect string) string {
	if dialect == dialectSQLite {
		return ci.long
	}
	return ci.short
}

// lockForWrite makes a transaction the only writer of key (a scope, or the
// event list) until it ends, before it reads what it will change. On
// PostgreSQL that is a transaction-scoped advisory lock. On SQLite it is a
// no-op write that takes the database's write lock at once: a transaction
// that read first would have to upgrade its read lock, which fails at once
// with SQLITE_BUSY instead of waiting for the busy timeout. Elsewhere the
// unique constraints and transaction retries have to do.
func lockForWrite(tx *gorm.DB, key string) error {
	var err error
	switch tx.Dialector.Name() {
	case dialectPostgres:
		err = tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "webhook:"+key).Error
	case dialectSQLite:
		err = tx.Exec("DELETE FROM webhook_scope WHERE 1 = 0").Error
	}
	if err != nil {
		return fmt.Errorf("webhook: locking %s: %w", key, err)
	}
	return nil
}

// retryableTxError reports whether a transaction failed only because of
// another one and may be run again: SQLite busy or locked, PostgreSQL
// serialization failure or deadlock, MySQL deadlock or lock timeout.
func retryableTxError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, s := range []string{
		"database is locked", "database table is locked", "SQLITE_BUSY", // SQLite
		"SQLSTATE 40001", "SQLSTATE 40P01", "deadlock detected", // PostgreSQL
		"Error 1213", "Error 1205", // MySQL
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// supportsReturning reports whether UPDATE ... RETURNING works.
func supportsReturning(db *gorm.DB) bool {
	switch db.Dialector.Name() {
	case dialectSQLite, dialectPostgres:
		return true
	}
	return false
}

// orderedExpr is a boolean SQL expression, never NULL, that says whether
// the webhook row under alias a is ordered ("ordered": true in its
// extra_info).
func orderedExpr(db *gorm.DB, a string) string {
	if db.Dialector.Name() == dialectPostgres {
		return `COALESCE(` + a + `.extra_info->>'ordered' = 'true', false)`
	}
	return `(COALESCE(CASE WHEN json_valid(` + a + `.extra_info) THEN json_extract(` + a + `.extra_info, '$.ordered') END, 0) = 1)`
}

// unindexed is column col as an expression that SQLite does not read
// through an index: with it in an ORDER BY or GROUP BY, SQLite's planner
// does not pick an index for its order over one for the WHERE clause (the
// unary + of its documentation). Other databases choose by statistics.
func unindexed(db *gorm.DB, col string) string {
	if db.Dialector.Name() == dialectSQLite {
		return "+" + col
	}
	return col
}

// sortsToGroup reports whether the database groups rows by sorting them
// (SQLite has no hash aggregate): a GROUP BY over many rows costs a sort of
// them all.
func sortsToGroup(db *gorm.DB) bool {
	return db.Dialector.Name() == dialectSQLite
}
