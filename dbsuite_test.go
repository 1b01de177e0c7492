package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// One behavioural suite runs on every database: each test that touches the
// database is a func(t, *testDB) registered in suite (suite_list_test.go),
// and TestSQLite and TestPostgres run all of them, in parallel, each on a
// fresh database of its own.

// postgresDSNEnv names the variable holding the DSN of a PostgreSQL server
// the tests may create databases on.
const postgresDSNEnv = "WEBHOOK_TEST_POSTGRES_DSN"

// testDB gives a test fresh, isolated databases of one dialect.
type testDB struct {
	name string
	// open returns an empty database that is dropped when t ends.
	open func(t testing.TB) *gorm.DB
	// openFixture returns a database holding what the Python package
	// bkflow-django-webhook 1.2.6 wrote (testdata/fixtures).
	openFixture func(t testing.TB) *gorm.DB
	// another opens a second, independent connection pool to the database
	// of db, as another instance of the service would.
	another func(t testing.TB, db *gorm.DB) *gorm.DB
}

type suiteTest struct {
	name string
	fn   func(t *testing.T, d *testDB)
}

func runSuite(t *testing.T, d *testDB) {
	for _, st := range suite {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.fn(t, d)
		})
	}
}

func TestSQLite(t *testing.T) { runSuite(t, sqliteTestDB()) }

func TestPostgres(t *testing.T) { runSuite(t, postgresTestDB(t)) }

func sqliteTestDB() *testDB {
	return &testDB{
		name: dialectSQLite,
		open: func(t testing.TB) *gorm.DB { return openSQLite(t, "") },
		openFixture: func(t testing.TB) *gorm.DB {
			t.Helper()
			path := filepath.Join(t.TempDir(), "django.sqlite3")
			data, err := os.ReadFile(fixtureSQLite)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			return openSQLite(t, path)
		},
		another: func(t testing.TB, db *gorm.DB) *gorm.DB {
			t.Helper()
			var rows []struct{ Name, File string }
			if err := db.Raw("PRAGMA database_list").Scan(&rows).Error; err != nil || len(rows) == 0 || rows[0].File == "" {
				t.Fatalf("sqlite: no file behind the database: %v", err)
			}
			return openSQLite(t, rows[0].File)
		},
	}
}

// postgresTestDB skips t unless WEBHOOK_TEST_POSTGRES_DSN names a server.
func postgresTestDB(t testing.TB) *testDB {
	t.Helper()
	dsn := os.Getenv(postgresDSNEnv)
	if dsn == "" && os.Getenv("WEBHOOK_TEST_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("%s is not set but WEBHOOK_TEST_REQUIRE_POSTGRES=1: the PostgreSQL server did not start", postgresDSNEnv)
	}
	if dsn == "" {
		t.Skipf("%s is not set: run the PostgreSQL suite with scripts/with-postgres.sh go test ./... (it starts a throw-away server)", postgresDSNEnv)
	}
	return &testDB{
		name: dialectPostgres,
		open: func(t testing.TB) *gorm.DB { return openPostgres(t, dsn) },
		openFixture: func(t testing.TB) *gorm.DB {
			t.Helper()
			db := openPostgres(t, dsn)
			loadPostgresDump(t, db, fixturePostgres)
			return db
		},
		another: func(t testing.TB, db *gorm.DB) *gorm.DB {
			t.Helper()
			var name string
			if err := db.Raw("SELECT current_database()").Scan(&name).Error; err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(dsn)
			u.Path = "/" + name
			other, err := gorm.Open(postgres.Open(u.String()), &gorm.Config{Logger: logger.Discard})
			if err != nil {
				t.Fatal(err)
			}
			sqlDB, _ := other.DB()
			sqlDB.SetMaxOpenConns(20)
			sqlDB.SetMaxIdleConns(20)
			t.Cleanup(func() { sqlDB.Close() })
			return other
		},
	}
}

// openPostgres creates a database of its own on the server of adminDSN and
// drops it when t ends.
func openPostgres(t testing.TB, adminDSN string) *gorm.DB {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "webhook_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", adminDSN)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		t.Fatalf("postgres: creating database %s: %v", name, err)
	}
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatalf("postgres: %s must be a URL (postgres://user@host:port/db?sslmode=disable): %v", postgresDSNEnv, err)
	}
	u.Path = "/" + name
	db, err := gorm.Open(postgres.Open(u.String()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(20)
	sqlDB.SetMaxIdleConns(20)
	t.Cleanup(func() {
		sqlDB.Close()
		admin, err := sql.Open("pgx", adminDSN)
		if err != nil {
			return
		}
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("postgres: dropping %s: %v", name, err)
		}
	})
	return db
}

// loadPostgresDump runs a plain-text pg_dump file on db: its statements,
// and its COPY blocks as INSERTs. psql meta-commands are skipped, and so is
// the dump's emptying of search_path, which would outlive the load on a
// pooled connection.
func loadPostgresDump(t testing.TB, db *gorm.DB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var stmt strings.Builder
	exec := func(q string) {
		if strings.Contains(q, "set_config('search_path'") {
			return
		}
		if err := db.Exec(q).Error; err != nil {
			t.Fatalf("loading %s: %v\n%s", path, err, q)
		}
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case stmt.Len() == 0 && (strings.HasPrefix(trimmed, "--") || strings.HasPrefix(trimmed, `\`) || strings.TrimSpace(trimmed) == ""):
		case stmt.Len() == 0 && strings.HasPrefix(trimmed, "COPY ") && strings.HasSuffix(trimmed, "FROM stdin;"):
			head := strings.TrimSuffix(strings.TrimPrefix(trimmed, "COPY "), " FROM stdin;")
			for {
				row, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("loading %s: COPY %s not terminated", path, head)
				}
				row = strings.TrimRight(row, "\r\n")
				if row == `\.` {
					break
				}
				var vals []string
				for _, field := range strings.Split(row, "\t") {
					if field == `\N` {
						vals = append(vals, "NULL")
						continue
					}
					vals = append(vals, "'"+strings.ReplaceAll(copyUnescape(field), "'", "''")+"'")
				}
				exec("INSERT INTO " + head + " VALUES (" + strings.Join(vals, ", ") + ")")
			}
		default:
			stmt.WriteString(line)
			if strings.HasSuffix(strings.TrimSpace(trimmed), ";") {
				exec(stmt.String())
				stmt.Reset()
			}
		}
		if err == io.EOF {
			break
		}
	}
}

// copyUnescape decodes a field of COPY's text format.
func copyUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// TestSuiteListsEveryDatabaseTest guards against a suite test that was
// written but never registered, and so never run.
func TestSuiteListsEveryDatabaseTest(t *testing.T) {
	t.Parallel()
	registered := map[string]bool{}
	for _, st := range suite {
		registered[st.name] = true
	}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*_test.go")
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "test") || len(fn.Type.Params.List) != 2 {
				continue
			}
			if sel, ok := fn.Type.Params.List[1].Type.(*ast.StarExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "testDB" {
					name := strings.TrimPrefix(fn.Name.Name, "test")
					if !registered[name] {
						t.Errorf("%s: %s is not in the suite list: add {%q, %s} to suite", fset.Position(fn.Pos()), fn.Name.Name, name, fn.Name.Name)
					}
				}
			}
		}
	}
	if len(registered) != len(suite) {
		t.Errorf("the suite list names a test twice")
	}
}
