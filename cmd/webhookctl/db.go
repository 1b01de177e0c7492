package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strconv"
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
	// envAllowShort accepts secrets shorter than the library's minimum
	// (Config.AllowShortPrivateSecret): for a database whose credentials a
	// short secret already encrypts, such as a Python service's.
	envAllowShort = "WEBHOOK_ALLOW_SHORT_PRIVATE_SECRET"
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
	// secret is set when client has the service's private secret, unset
	// when it was built by clientWithoutSecret.
	secret bool
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

// client returns a webhook client with the service's private secret, for a
// command that decrypts or encrypts credentials, opening the database on
// first use. It fails before touching the database when
// WEBHOOK_PRIVATE_SECRET is unset. Unless create is set, a SQLite file that
// does not exist is an error rather than a new empty database.
func (a *app) client(create bool) (*webhook.Client, error) {
	if a.db != nil {
		if !a.db.secret {
			return nil, errors.New("internal error: the database was opened without the private secret")
		}
		return a.db.client, nil
	}
	cfg, err := a.clientConfig()
	if err != nil {
		return nil, err
	}
	return a.openClient(create, cfg, true)
}

// clientWithoutSecret returns a webhook client for a command that neither
// decrypts nor encrypts a credential (migrate, history, webhooks, ...):
// WEBHOOK_PRIVATE_SECRET is neither needed nor read. The library wants a
// private secret all the same, so the client gets a random one that nobody
// knows: were such a command ever to decrypt a credential, it would fail
// with ErrDecrypt instead of reading it. These commands never write one.
func (a *app) clientWithoutSecret(create bool) (*webhook.Client, error) {
	if a.db != nil {
		return a.db.client, nil
	}
	return a.openClient(create, webhook.Config{PrivateSecret: rand.Text()}, false)
}

// openClient opens the database and builds a client with cfg on it.
func (a *app) openClient(create bool, cfg webhook.Config, secret bool) (*webhook.Client, error) {
	dsn := a.dsn()
	db, err := openDB(dsn, create)
	if err != nil {
		return nil, err
	}
	c, err := webhook.New(db, cfg)
	if err != nil {
		closeDB(db)
		err = fmt.Errorf("creating the webhook client: %w", err)
		if secret && errors.Is(err, webhook.ErrInvalidConfig) {
			// The only configuration comes from the environment: the secrets.
			return nil, withHint(&usageError{err}, fmt.Sprintf("PrivateSecret is %s and OldPrivateSecrets are %s: each must be at least %d bytes; "+
				"generate one with 'openssl rand -base64 32'. To keep a shorter secret that existing credentials depend on "+
				"(a Python service's PRIVATE_SECRET), set %s=1 until it is rotated ('%s help reencrypt')",
				envSecret, envOldSecrets, webhook.MinPrivateSecretBytes, envAllowShort, progName))
		}
		return nil, err
	}
	a.db = &dbHandle{gorm: db, client: c, secret: secret}
	return c, nil
}

// clientConfig returns the configuration of the webhook client: the private
// secret from WEBHOOK_PRIVATE_SECRET and the secrets it replaced, tried
// after it to decrypt, from WEBHOOK_OLD_PRIVATE_SECRETS (separated by
// spaces); WEBHOOK_ALLOW_SHORT_PRIVATE_SECRET accepts short ones.
func (a *app) clientConfig() (webhook.Config, error) {
	secret := a.getenv(envSecret)
	if secret == "" {
		return webhook.Config{}, usageErrorf("%s is not set: this command decrypts or encrypts webhook credentials, "+
			"which needs the service's private secret; export %s (it is never taken from a flag, so it stays out of ps). "+
			"Commands such as migrate, history, deliveries and webhooks run without it",
			envSecret, envSecret)
	}
	allowShort := false
	if v := a.getenv(envAllowShort); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return webhook.Config{}, usageErrorf("%s=%q: want 1 (or true) to accept a private secret shorter than %d bytes, or leave it unset",
				envAllowShort, printable(v), webhook.MinPrivateSecretBytes)
		}
		allowShort = b
	}
	return webhook.Config{
		PrivateSecret:           secret,
		OldPrivateSecrets:       strings.Fields(a.getenv(envOldSecrets)),
		AllowShortPrivateSecret: allowShort,
	}, nil
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
