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
	"github.com/scopehook/webhook/internal/suggest"
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
		if errors.Is(err, webhook.ErrInvalidConfig) && cfg.EgressProxy != "" && strings.Contains(err.Error(), "EgressProxy") {
			return nil, egressConfigError(err)
		}
		err = fmt.Errorf("creating the webhook client: %w", err)
		if secret && errors.Is(err, webhook.ErrInvalidConfig) {
			// The rest of the configuration comes from the environment: the secrets.
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
	kind, err := classifyDSN(dsn)
	if err != nil {
		return nil, err
	}
	if kind == dsnPostgres {
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
// a SQLite file (see classifyDSN).
func isPostgresDSN(dsn string) bool {
	kind, err := classifyDSN(dsn)
	return err == nil && kind == dsnPostgres
}

func isPostgresURL(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// dsnKind is the database a --db value names.
type dsnKind int

const (
	dsnSQLite dsnKind = iota
	dsnPostgres
)

// urlScheme matches the scheme of a URL ("mysql://"). A SQLite file: URI
// ("file:app.db", "file:///srv/app.db") is not refused.
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// conninfoKey matches a key=value pair's key at the start of a string.
var conninfoKey = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// pgKeys are the keys of a key=value PostgreSQL DSN: libpq's connection
// parameters, and the few that pgx, the driver, adds.
var pgKeys = map[string]bool{
	// libpq (PostgreSQL 17)
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "password": true,
	"passfile": true, "require_auth": true, "channel_binding": true, "connect_timeout": true,
	"client_encoding": true, "options": true, "application_name": true, "fallback_application_name": true,
	"keepalives": true, "keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "replication": true, "gssencmode": true, "sslmode": true, "requiressl": true,
	"sslnegotiation": true, "sslcompression": true, "sslcert": true, "sslkey": true, "sslpassword": true,
	"sslcertmode": true, "sslrootcert": true, "sslcrl": true, "sslcrldir": true, "sslsni": true,
	"requirepeer": true, "ssl_min_protocol_version": true, "ssl_max_protocol_version": true,
	"krbsrvname": true, "gsslib": true, "gssdelegation": true, "service": true,
	"target_session_attrs": true, "load_balance_hosts": true,
	// pgx
	"servicefile": true, "default_query_exec_mode": true, "statement_cache_capacity": true,
	"description_cache_capacity": true, "min_read_buffer_size": true,
}

// dsnHelp says what --db takes, for the errors of classifyDSN.
const dsnHelp = "only SQLite file paths and PostgreSQL DSNs are supported: a postgres:// or postgresql:// URL, " +
	"or key=value pairs such as 'host=db.internal dbname=app user=app'"

// classifyDSN says whether dsn is a PostgreSQL DSN or a SQLite path:
//
//   - a postgres:// or postgresql:// URL is PostgreSQL; any other URL
//     scheme (mysql://, sqlserver://, ...) is a usage error;
//   - a string that starts with a libpq key and "=" is a key=value
//     PostgreSQL DSN: every key must be a libpq key and host or dbname
//     must be one of them, or it is a usage error;
//   - anything else (file:, :memory:, a path, even one holding "host=")
//     is a SQLite path.
//
// No error shows the value, which may hold a password: only the scheme or
// the keys.
func classifyDSN(dsn string) (dsnKind, error) {
	if m := urlScheme.FindStringSubmatch(dsn); m != nil {
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			return dsnPostgres, nil
		case "file":
			return dsnSQLite, nil
		}
		return 0, usageErrorf("--db: the %s:// scheme is not supported: %s", printable(strings.ToLower(m[1])), dsnHelp)
	}
	m := conninfoKey.FindStringSubmatch(dsn)
	if m == nil || !pgKeys[m[1]] {
		return dsnSQLite, nil
	}
	keys, err := conninfoKeys(dsn)
	if err != nil {
		return 0, usageErrorf("--db: a key=value PostgreSQL DSN, as it starts with %s=, but %v: %s", m[1], err, dsnHelp)
	}
	hostOrDB := false
	for _, k := range keys {
		if !pgKeys[k] {
			hint := ""
			if s := closestKey(k); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", s)
			}
			return 0, usageErrorf("--db: %q is not a PostgreSQL connection parameter%s: a key=value DSN takes libpq's keys, such as host, port, dbname, user, password, sslmode", printable(k), hint)
		}
		hostOrDB = hostOrDB || k == "host" || k == "dbname"
	}
	if !hostOrDB {
		return 0, usageErrorf("--db: a key=value PostgreSQL DSN needs host= or dbname=: %s", dsnHelp)
	}
	return dsnPostgres, nil
}

// closestKey returns the libpq key nearest to k when k looks like a typo.
func closestKey(k string) string {
	best, bestDist := "", 3
	for known := range pgKeys {
		if d := suggest.Distance(strings.ToLower(k), known); d < bestDist || d == bestDist && known < best {
			best, bestDist = known, d
		}
	}
	return best
}

// conninfoKeys returns the keys of a libpq key=value string: pairs
// separated by spaces, "=" optionally surrounded by spaces, each value
// bare or single-quoted with \\ and \' escapes. Its errors never show a
// value.
func conninfoKeys(s string) ([]string, error) {
	var keys []string
	i := 0
	skipSpace := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f' || s[i] == '\v') {
			i++
		}
	}
	for {
		skipSpace()
		if i == len(s) {
			return keys, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
			i++
		}
		key := s[start:i]
		skipSpace()
		if i == len(s) || s[i] != '=' {
			// The word could be part of a password with a space: not shown.
			return nil, fmt.Errorf("what follows pair %d is not a key=value pair (quote a value holding spaces in single quotes)", len(keys))
		}
		i++ // '='
		skipSpace()
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) {
					i += 2
					continue
				}
				if s[i] == '\'' {
					closed = true
					i++
					break
				}
				i++
			}
			if !closed {
				return nil, fmt.Errorf("the quoted value of %s is not closed by '", printable(key))
			}
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				i++
			}
		}
		keys = append(keys, key)
	}
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
	// Redact whatever starts like a key=value DSN, valid or not: an
	// invalid one is shown in no message, but better safe.
	if conninfoKey.MatchString(dsn) {
		return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
	}
	return dsn
}
