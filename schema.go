package webhook

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// The tables, columns and index names are those of the Python package
// bkflow-django-webhook (migrations 0001 to 0005), so that both can share one
// database. Columns the library adds are nullable or have a default, so the
// Python package keeps inserting rows without knowing them.

// jsonText is a JSON column: text on SQLite, jsonb on PostgreSQL, JSON on
// MySQL. A nil value is SQL NULL.
type jsonText []byte

// Value implements driver.Valuer.
func (j jsonText) Value() (driver.Value, error) {
	if len(j) == 0 {
		return nil, nil
	}
	return string(j), nil
}

// Scan implements sql.Scanner.
func (j *jsonText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append((*j)[:0], v...)
	case string:
		*j = jsonText(v)
	default:
		return fmt.Errorf("webhook: cannot scan %T into a JSON column", src)
	}
	return nil
}

// GormDBDataType chooses the column type per dialect.
func (jsonText) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	switch db.Dialector.Name() {
	case "postgres":
		return "jsonb"
	case "mysql":
		return "JSON"
	default:
		return "text"
	}
}

type eventRow struct {
	Code        string   `gorm:"column:code;primaryKey;type:varchar(255)"`
	Name        string   `gorm:"column:name;type:varchar(255);not null"`
	Description *string  `gorm:"column:description;type:text"`
	Info        jsonText `gorm:"column:info"`
}

func (eventRow) TableName() string { return "webhook_event" }

type webhookRow struct {
	ID            int64    `gorm:"column:id;primaryKey;autoIncrement"`
	Code          string   `gorm:"column:code;type:varchar(255);not null;uniqueIndex:webhook_webhook_scope_type_scope_code_code_7887cf8a_uniq,priority:3"`
	Name          string   `gorm:"column:name;type:varchar(255);not null"`
	Endpoint      string   `gorm:"column:endpoint;type:varchar(200);not null"`
	ScopeType     string   `gorm:"column:scope_type;type:varchar(64);not null;uniqueIndex:webhook_webhook_scope_type_scope_code_code_7887cf8a_uniq,priority:1"`
	ScopeCode     string   `gorm:"column:scope_code;type:varchar(64);not null;uniqueIndex:webhook_webhook_scope_type_scope_code_code_7887cf8a_uniq,priority:2"`
	ExtraInfo     jsonText `gorm:"column:extra_info"`
	Method        string   `gorm:"column:method;type:varchar(10);not null"`
	EnableWebhook bool     `gorm:"column:enable_webhook;not null"`
	// Columns added by this library; all defaulted or nullable.
	ConsecutiveFailures int        `gorm:"column:consecutive_failures;type:integer;not null;default:0"`
	FailingSince        *time.Time `gorm:"column:failing_since"`
	DisabledReason      *string    `gorm:"column:disabled_reason;type:text"`
	DisabledAt          *time.Time `gorm:"column:disabled_at"` // when the library disabled it
	// The circuit breaker, shared by every instance (see circuit.go).
	CircuitFailures  int        `gorm:"column:circuit_failures;type:integer;not null;default:0"`
	CircuitOpenUntil *time.Time `gorm:"column:circuit_open_until"`
	CircuitOpenedAt  *time.Time `gorm:"column:circuit_opened_at"`
	CircuitProbes    int        `gorm:"column:circuit_probes;type:integer;not null;default:0"`
	CircuitReason    *string    `gorm:"column:circuit_reason;type:text"`
}

// nothingToReset reports whether the row, as read, has nothing a success
// resets: no failure count, failing-since time, circuit failures or open
// circuit.
func (r *webhookRow) nothingToReset() bool {
	return r.ConsecutiveFailures == 0 && r.FailingSince == nil && r.CircuitFailures == 0 && r.CircuitOpenUntil == nil
}

func (webhookRow) TableName() string { return "webhook_webhook" }

type subscriptionRow struct {
	ID          int64  `gorm:"column:id;primaryKey;autoIncrement"`
	WebhookCode string `gorm:"column:webhook_code;type:varchar(255);not null;index:webhook_subscription_webhook_code_2d55a98d"`
	EventCode   string `gorm:"column:event_code;type:varchar(255);not null;index:webhook_subscription_event_code_431c979d"`
	ScopeType   string `gorm:"column:scope_type;type:varchar(64);not null"`
	ScopeCode   string `gorm:"column:scope_code;type:varchar(64);not null"`
}

func (subscriptionRow) TableName() string { return "webhook_subscription" }

type scopeRow struct {
	ID   int64  `gorm:"column:id;primaryKey;autoIncrement"`
	Type string `gorm:"column:type;type:varchar(64);not null;uniqueIndex:webhook_scope_type_code_6cbfccd0_uniq,priority:1"`
	Code string `gorm:"column:code;type:varchar(64);not null;uniqueIndex:webhook_scope_type_code_6cbfccd0_uniq,priority:2"`
}

func (scopeRow) TableName() string { return "webhook_scope" }

type historyRow struct {
	ID          int64     `gorm:"column:id;primaryKey;autoIncrement"`
	WebhookCode string    `gorm:"column:webhook_code;type:varchar(255);not null;index:webhook_history_webhook_code_15fd4c86"`
	EventCode   string    `gorm:"column:event_code;type:varchar(255);not null;index:webhook_history_event_code_b7ecb177"`
	CreatedAt   time.Time `gorm:"column:created_at;not null;autoCreateTime:false;index:webhook_history_created_at_adfacf62"`
	Success     bool      `gorm:"column:success;not null"`
	StatusCode  *int      `gorm:"column:status_code;type:integer"`
	DeliveryID  string    `gorm:"column:delivery_id;type:varchar(64);not null;index:webhook_history_delivery_id_87491240"`
	ScopeType   string    `gorm:"column:scope_type;type:varchar(64);not null"`
	ScopeCode   string    `gorm:"column:scope_code;type:varchar(64);not null"`
	ExtraInfo   jsonText  `gorm:"column:extra_info"`
	// Columns added by this library; all nullable or defaulted.
	Attempt      int     `gorm:"column:attempt;type:integer;not null;default:1"`
	DurationUS   *int64  `gorm:"column:duration_us"`
	ErrorMessage *string `gorm:"column:error_message;type:text"`
	// Queued marks the attempts of a delivery of the outbox (Enqueue); the
	// Python package's rows and Broadcast's have false.
	Queued bool `gorm:"column:queued;not null;default:false"`
}

func (historyRow) TableName() string { return "webhook_history" }

// addedColumns are the columns this library adds to the Python package's
// tables; Migrate adds those that are missing.
var addedColumns = []struct {
	model any
	field string
}{
	{&historyRow{}, "Attempt"},
	{&historyRow{}, "DurationUS"},
	{&historyRow{}, "ErrorMessage"},
	{&historyRow{}, "Queued"},
	{&deliveryRow{}, "TraceParent"},
	{&instanceRow{}, "HistoryRows"},
	{&instanceRow{}, "HistoryFailures"},
	{&instanceRow{}, "Leased"},
	{&webhookRow{}, "DisabledAt"},
	{&webhookRow{}, "ConsecutiveFailures"},
	{&webhookRow{}, "FailingSince"},
	{&webhookRow{}, "DisabledReason"},
	{&webhookRow{}, "CircuitFailures"},
	{&webhookRow{}, "CircuitOpenUntil"},
	{&webhookRow{}, "CircuitOpenedAt"},
	{&webhookRow{}, "CircuitProbes"},
	{&webhookRow{}, "CircuitReason"},
}

// compositeIndexes are the Python package's indexes over several columns,
// created by Migrate under the name Django gives them on each dialect.
var compositeIndexes = []compositeIndex{
	{
		table:   "webhook_subscription",
		columns: []string{"scope_type", "scope_code", "event_code", "webhook_code"},
		long:    "webhook_subscription_scope_type_scope_code_event_code_webhook_code_a6a01140_idx",
		short:   "webhook_subscription_scope_type_scope_code_ev_a6a01140_idx",
	},
	{
		table:   "webhook_history",
		columns: []string{"scope_type", "scope_code", "webhook_code", "event_code"},
		long:    "webhook_history_scope_type_scope_code_webhook_code_event_code_d7a03ec6_idx",
		short:   "webhook_history_scope_type_scope_code_we_d7a03ec6_idx",
	},
}

// listIndexes are the library's own indexes for the operator tools' lists
// and summaries (Deliveries, HourlyHistory, WebhookStats, Health): a list's
// filter columns, then its order, so that a page is an index range read in
// order and stops after its rows, whatever the table's size. Those on
// webhook_history are only indexes to the Python package (which never
// names them); the partial ones (a WHERE clause) hold only the rows their
// condition selects: the first attempts of the deliveries that were not
// queued, or the failed attempts.
var listIndexes = []listIndex{
	// The outbox's pages (queuedDeliveries), by status, event, webhook and
	// scope; webhook_delivery_created has the unfiltered one.
	{table: "webhook_delivery", name: "webhook_delivery_status_created", columns: []string{"status", "created_at", "id"}},
	{table: "webhook_delivery", name: "webhook_delivery_event_created", columns: []string{"event_code", "created_at", "id"}},
	{table: "webhook_delivery", name: "webhook_delivery_webhook_created", columns: []string{"webhook_code", "created_at", "id"}},
	{table: "webhook_delivery", name: "webhook_delivery_scope_created", columns: []string{"scope_type", "scope_code", "created_at", "id"}},
	// No index names lease_owner or lease_until: a claim, which sets them,
	// then changes no index (on PostgreSQL it stays a HOT update).
	// The pages of the deliveries that were not queued (sentDeliveries),
	// unfiltered and by event, webhook and scope.
	{table: "webhook_history", name: "webhook_history_sent", columns: []string{"created_at", "id"}, where: sentFirstAttempts},
	{table: "webhook_history", name: "webhook_history_sent_event", columns: []string{"event_code", "created_at", "id"}, where: sentFirstAttempts},
	{table: "webhook_history", name: "webhook_history_sent_webhook", columns: []string{"webhook_code", "created_at", "id"}, where: sentFirstAttempts},
	{table: "webhook_history", name: "webhook_history_sent_scope", columns: []string{"scope_type", "scope_code", "created_at", "id"}, where: sentFirstAttempts},
	// The summaries of the last hours: on SQLite, which sorts to group,
	// WebhookStats reads a range of each webhook's rows since a time
	// (PostgreSQL groups them by hashing); HourlyHistory counts the
	// failures of each hour (and the attempts through the Python package's
	// index on created_at).
	{table: "webhook_history", name: "webhook_history_webhook_created", columns: []string{"scope_type", "scope_code", "webhook_code", "created_at", "success", "id"}, sqliteOnly: true},
	{table: "webhook_history", name: "webhook_history_failures", columns: []string{"created_at"}, where: "NOT success"},
}

// deliveryFillFactor is the fill factor of webhook_delivery on PostgreSQL:
// half of each page is left free when rows are written, so that a claim,
// which leases the rows of a page one after the other (they were enqueued
// together), finds room beside each for its new version and stays a HOT
// update. At 70 only about 40 % of the claims were; in the drain benchmark
// the claims' time in the server fell from about 1,900 ms to 350 ms for
// 30,000 deliveries. The cost: the outbox takes about twice the space.
const deliveryFillFactor = "50"

// listIndex is one of the library's indexes; where, when set, makes it a
// partial index (SQLite and PostgreSQL both have them).
type listIndex struct {
	table, name, where string
	columns            []string
	sqliteOnly         bool // of use on SQLite only
}

// Migrate creates the tables, or brings tables created by the Python package
// (or an older version of this library) up to date by adding the missing
// columns and indexes. It never drops or retypes a column, so the Python
// package keeps working on the same database. An index is recognised by its
// columns, whatever its name. Migrate is idempotent and safe to call from
// several instances at once: on PostgreSQL an advisory lock serialises them;
// elsewhere a Migrate that lost a race retries.
func (c *Client) Migrate(ctx context.Context) error {
	const attempts = 10
	var err error
	for attempt := 1; ; attempt++ {
		err = c.callerDB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := lockMigrations(tx); err != nil {
				return err
			}
			return migrate(tx)
		})
		if err == nil || ctx.Err() != nil || attempt == attempts {
			return err
		}
		// Another instance may hold the database's write lock (SQLite) or
		// have created a table between our check and our DDL: the next
		// round sees its work and does only what is left.
		c.log.Debug("webhook: migrate met a concurrent migration, retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(10+rand.IntN(40*attempt)) * time.Millisecond):
		}
	}
}

func migrate(db *gorm.DB) error {
	m := db.Migrator()
	dialect := db.Dialector.Name()
	models := []any{&eventRow{}, &webhookRow{}, &subscriptionRow{}, &scopeRow{}, &historyRow{}, &deliveryRow{}, &instanceRow{}, &changeRow{}}
	for _, model := range models {
		stmt := &gorm.Statement{DB: db}
		if err := stmt.Parse(model); err != nil {
			return fmt.Errorf("webhook: migrate: %w", err)
		}
		table := stmt.Schema.Table
		if !m.HasTable(model) {
			if err := m.CreateTable(model); err != nil {
				return fmt.Errorf("webhook: migrate: creating table %s: %w", table, err)
			}
		} else {
			for _, col := range addedColumns {
				if fmt.Sprintf("%T", col.model) != fmt.Sprintf("%T", model) || m.HasColumn(model, col.field) {
					continue
				}
				if err := m.AddColumn(model, col.field); err != nil {
					return fmt.Errorf("webhook: migrate: adding column %s.%s: %w", table, col.field, err)
				}
			}
		}
		have, err := indexColumns(db, table)
		if err != nil {
			return fmt.Errorf("webhook: migrate: reading the indexes of %s: %w", table, err)
		}
		exists := func(name string, cols []string) bool {
			if have != nil {
				_, ok := have[strings.Join(cols, ",")]
				return ok
			}
			return m.HasIndex(model, name)
		}
		for _, idx := range stmt.Schema.ParseIndexes() {
			cols := make([]string, len(idx.Fields))
			for i, f := range idx.Fields {
				cols[i] = f.DBName
			}
			if exists(idx.Name, cols) {
				continue
			}
			if err := m.CreateIndex(model, idx.Name); err != nil {
				return fmt.Errorf("webhook: migrate: creating index %s: %w", idx.Name, err)
			}
		}
		for _, ci := range compositeIndexes {
			if ci.table != table || exists(ci.name(dialect), ci.columns) {
				continue
			}
			q := fmt.Sprintf("CREATE INDEX %s ON %s (%s)", ci.name(dialect), table, strings.Join(ci.columns, ", "))
			if err := db.Exec(q).Error; err != nil {
				return fmt.Errorf("webhook: migrate: creating index %s: %w", ci.name(dialect), err)
			}
		}
		for _, li := range listIndexes {
			if li.table != table || (li.sqliteOnly && dialect != dialectSQLite) || (li.where == "" && exists(li.name, li.columns)) {
				continue
			}
			// A partial index is known by its name: another index on the
			// same columns does not hold the same rows.
			q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", li.name, table, strings.Join(li.columns, ", "))
			if li.where != "" {
				q += " WHERE " + li.where
			}
			if err := db.Exec(q).Error; err != nil {
				return fmt.Errorf("webhook: migrate: creating index %s: %w", li.name, err)
			}
		}
		if table == "webhook_delivery" && dialect == dialectPostgres {
			// Room on each page for a row's next version: a claim (which
			// changes no indexed column) is then a HOT update, written
			// beside the row without touching the outbox's indexes.
			var opts string
			if err := db.Raw("SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = 'webhook_delivery'::regclass").Scan(&opts).Error; err != nil {
				return fmt.Errorf("webhook: migrate: reading the storage options of webhook_delivery: %w", err)
			}
			if !strings.Contains(opts, "fillfactor=") {
				if err := db.Exec("ALTER TABLE webhook_delivery SET (fillfactor = " + deliveryFillFactor + ")").Error; err != nil {
					return fmt.Errorf("webhook: migrate: setting the fill factor of webhook_delivery: %w", err)
				}
			}
		}
		if table == "webhook_delivery" && have != nil && have["scope_type,scope_code,webhook_code,status"] == "webhook_delivery_webhook" {
			// Version 0.1's queue index, superseded by webhook_delivery_order
			// (the same columns and the id, for ordered webhooks).
			if err := db.Exec("DROP INDEX webhook_delivery_webhook").Error; err != nil {
				return fmt.Errorf("webhook: migrate: dropping index webhook_delivery_webhook: %w", err)
			}
		}
	}
	return nil
}

// plainJSONString reports whether s is printable ASCII with no quote or
// backslash: a JSON string as it stands.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// marshalJSON encodes v without escaping <, > and &, which webhook receivers
// and history readers would otherwise see as \u003c sequences.
func marshalJSON(v any) ([]byte, error) {
	if s, ok := v.(string); ok && plainJSONString(s) {
		// What the encoder writes for it, without the encoder: header names
		// and values, codes, delivery ids.
		b := make([]byte, 0, len(s)+2)
		return append(append(append(b, '"'), s...), '"'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
