package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// postgresDSNEnv names the server of the PostgreSQL tests, as in the
// library's suite (scripts/with-postgres.sh sets it).
const postgresDSNEnv = "WEBHOOK_TEST_POSTGRES_DSN"

// postgresFixture returns a fixture whose --db is a fresh database on the
// server of WEBHOOK_TEST_POSTGRES_DSN, dropped when t ends; it skips t
// without a server.
func postgresFixture(t *testing.T) *fixture {
	t.Helper()
	adminDSN := os.Getenv(postgresDSNEnv)
	if adminDSN == "" && os.Getenv("WEBHOOK_TEST_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("%s is not set but WEBHOOK_TEST_REQUIRE_POSTGRES=1", postgresDSNEnv)
	}
	if adminDSN == "" {
		t.Skipf("%s is not set: run scripts/with-postgres.sh go test ./cmd/... for the PostgreSQL tests", postgresDSNEnv)
	}
	admin, err := gorm.Open(postgres.Open(adminDSN), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	sqlAdmin, _ := admin.DB()
	t.Cleanup(func() { sqlAdmin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "webhookctl_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin.WithContext(ctx).Exec("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'").Error; err != nil {
		t.Fatalf("postgres: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := admin.WithContext(ctx).Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").Error; err != nil {
			t.Logf("postgres: dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatalf("postgres: %s must be a URL: %v", postgresDSNEnv, err)
	}
	u.Path = "/" + name
	f := newFixture(t)
	f.db = u.String()
	return f
}

// TestPostgres runs apply and the delivery commands on PostgreSQL, where
// apply's transaction holds savepoints and advisory locks and the stored
// configuration is jsonb.
func TestPostgres(t *testing.T) {
	t.Parallel()
	f := postgresFixture(t)
	rcv := newReceiver(t)
	f.migrate()
	f.writeFile("config/events.yaml", twoEvents)
	f.mustRun("sync-events", f.dir+"/config", "events.yaml")
	f.writeFile("webhooks.yaml", webhooksYAML(rcv.URL))
	res := f.runWith(applyEnv(), "apply", "webhooks.yaml")
	if res.code != exitOK || !strings.Contains(res.stdout, "scope biz:biz1: webhooks 2 created") {
		t.Fatalf("apply: %s", res)
	}
	res = f.runWith(applyEnv(), "apply", "webhooks.yaml")
	if res.code != exitOK || !strings.Contains(res.stdout, "scope biz:biz1: webhooks 0 created, 0 updated, 2 unchanged, 0 deleted; subscriptions 0 added, 0 removed, 2 unchanged") {
		t.Fatalf("apply again: %s", res)
	}

	// A broken later scope leaves the earlier changes unwritten.
	broken := strings.Replace(webhooksYAML(rcv.URL), "      wh_fail: [template_update]\n", "", 1) + `  - type: biz
    code: biz3
    webhooks: [{code: broken, name: Broken, endpoint: "ftp://x/"}]
    subscriptions: {}
`
	f.writeFile("broken.yaml", broken)
	wantFailure(t, f.runWith(applyEnv(), "apply", "broken.yaml"), exitInvalidInput, "scope biz:biz3", "nothing was written")

	res = f.run("broadcast", "template_update", "--scope", "biz:biz1")
	if res.code != exitFailure || !strings.Contains(res.stderr, "1 of 2 deliveries failed") { // wh_fail is still subscribed
		t.Fatalf("broadcast: %s", res)
	}
	wantNoApplySecrets(t, "broadcast", res.stdout+res.stderr)
	res = f.run("broadcast", "template_update", "--scope", "biz:biz1", "--enqueue")
	if res.code != exitOK || len(strings.Fields(res.stdout)) != 2 {
		t.Fatalf("broadcast --enqueue: %s", res)
	}
	if got := deliveriesJSON(t, f, "--status", "pending"); len(got) != 2 {
		t.Errorf("pending deliveries = %+v", got)
	}
	wantFailure(t, f.run("redeliver", "nope"), exitInvalidInput, "delivery not found")
	if res := f.mustRun("prune", "--older-than", "30d"); res.stdout != "pruned 0 history rows and 0 finished deliveries older than 30d\n" {
		t.Errorf("prune: %s", res)
	}
	if res := f.mustRun("reencrypt"); res.stdout != "examined 3 webhooks: 0 rewritten under the current secret, 0 failed\n" {
		t.Errorf("reencrypt: %s", res)
	}
	res = f.mustRun("webhooks", "--json")
	wantNoApplySecrets(t, "webhooks --json", res.stdout)
	var hooks []webhookJSON
	if err := json.Unmarshal([]byte(res.stdout), &hooks); err != nil || len(hooks) != 3 || hooks[1].Code != "wh_ok" || hooks[1].Stats.Attempts != 1 || !hooks[1].HasToken {
		t.Errorf("webhooks --json: %v\n%s", err, res.stdout)
	}
}
