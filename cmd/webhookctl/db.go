package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/scopehook/webhook"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Environment variables read by webhookctl.
const (
	envDB         = "WEBHOOK_DB"
	envSecret     = "WEBHOOK_PRIVATE_SECRET"
	envOldSecrets = "WEBHOOK_OLD_PRIVATE_SECRETS"
)

const (
	defaultDB = "webhook.db"
	// sqliteParams lets concurrent writers wait for each other instead of
	// failing with "database is locked", as the library recommends.
	sqliteParams = "_busy_timeout=10000&_journal_mode=WAL&_txlock=immediate"
)

// kvPassword matches the password of a key=value PostgreSQL DSN, quoted or
// not (sslpassword included). It is only read after initialisation.
var kvPassword = regexp.MustCompile(`(?i)\b(\w*password\s*=\s*)('(?:[^'\\]|\\.)*'|'.*|\S*)`)

// dbHandle is an open database and the client built on it.
type dbHandle struct {
	gorm   *gorm.DB
	client *webhook.Client
}

// dsn returns the database named by --db, else by WEBHOOK_DB, else the
// default SQLite file.
func (a *app) dsn() string {
	if a.dbFlag != "" {
		return a.dbFlag
	}
	if v := a.getenv(envDB); v != "" {
		return v
	}
	return defaultDB
}

// client returns a webhook client on the database, opening it on first use.
// It fails before touching the database when WEBHOOK_PRIVATE_SECRET is
// unset. Unless create is set, a SQLite file that does not exist is an
// error rather than a new empty database.
func (a *app) client(create bool) (*webhook.Client, error) {
	if a.db != nil {
		return a.db.client, nil
	}
	cfg, err := a.clientConfig()
	if err != nil {
		return nil, err
	}
	dsn := a.dsn()
	db, err := openDB(dsn, create)
	if err != nil {
		return nil, err
	}
	c, err := webhook.New(db, cfg)
	if err != nil {
		closeDB(db)
		return nil, fmt.Errorf("creating the webhook client: %w", err)
	}
	a.db = &dbHandle{gorm: db, client: c}
	return c, nil
}

// clientConfig returns the configuration of the webhook client: the private
// secret from WEBHOOK_PRIVATE_SECRET and the secrets it replaced, tried
// after it to decrypt, from WEBHOOK_OLD_PRIVATE_SECRETS (separated by
// spaces).
func (a *app) clientConfig() (webhook.Config, error) {
	secret := a.getenv(envSecret)
	if secret == "" {
		return webhook.Config{}, usageErrorf("%s is not set: every command that opens the database builds a webhook client, "+
			"which needs the service's private secret; export %s (it is never taken from a flag, so it stays out of ps)",
			envSecret, envSecret)
	}
	return webhook.Config{PrivateSecret: secret, OldPrivateSecrets: strings.Fields(a.getenv(envOldSecrets))}, nil
}

// close releases the database, if a command opened it.
func (a *app) close() {
	if a.db != nil {
		closeDB(a.db.gorm)
		a.db = nil
	}
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// openDB opens a PostgreSQL DSN or a SQLite file with a silent logger.
func openDB(dsn string, create bool) (*gorm.DB, error) {
	cfg := &gorm.Config{Logger: logger.Discard}
	if isPostgresDSN(dsn) {
		db, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			return nil, withHint(fmt.Errorf("opening PostgreSQL database %s: %w", redactDSN(dsn), err),
				"check that the server is up and the DSN (--db or "+envDB+") is right")
		}
		return db, nil
	}
	if !create && isPlainPath(dsn) {
		if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
			return nil, withHint(fmt.Errorf("SQLite database %s does not exist", dsn),
				"pass the service's database with --db (or "+envDB+"), or create it with '"+progName+" --db "+dsn+" migrate'")
		}
	}
	db, err := gorm.Open(sqlite.Open(sqliteDSN(dsn)), cfg)
	if err != nil {
		return nil, fmt.Errorf("opening SQLite database %s: %w", dsn, err)
	}
	return db, nil
}

// isPostgresDSN reports whether dsn names a PostgreSQL database rather than
// a SQLite file: a postgres:// or postgresql:// URL, or a key=value DSN.
func isPostgresDSN(dsn string) bool {
	return isPostgresURL(dsn) || strings.Contains(dsn, "host=")
}

func isPostgresURL(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// isPlainPath reports whether a SQLite DSN is a bare file path, as opposed
// to a file: URI, an in-memory database or a path with parameters.
func isPlainPath(dsn string) bool {
	return !strings.Contains(dsn, "?") && !strings.HasPrefix(dsn, "file:") && dsn != ":memory:"
}

// sqliteDSN adds the busy timeout and WAL parameters to a path that has no
// parameters of its own.
func sqliteDSN(path string) string {
	if strings.Contains(path, "?") {
		return path
	}
	return path + "?" + sqliteParams
}

// redactDSN returns dsn with its passwords replaced by "xxxxx", for
// printing. A URL that does not parse is not shown at all, since where its
// password lies is unknown.
func redactDSN(dsn string) string {
	if isPostgresURL(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			scheme, _, _ := strings.Cut(dsn, "://")
			return scheme + "://(DSN not shown: it does not parse as a URL)"
		}
		q := u.Query()
		changed := false
		for k := range q {
			if strings.Contains(strings.ToLower(k), "password") {
				q.Set(k, "xxxxx")
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	if isPostgresDSN(dsn) {
		return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
	}
	return dsn
}
