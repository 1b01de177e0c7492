package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopehook/webhook"
)

// proxy is an egress proxy for plain http:// requests that answers them
// itself, recording the URL and Proxy-Authorization of each.
type proxy struct {
	URL  string
	mu   sync.Mutex
	urls []string
	auth []string
}

func newProxy(t *testing.T) *proxy {
	t.Helper()
	p := &proxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.urls = append(p.urls, r.URL.String())
		p.auth = append(p.auth, r.Header.Get("Proxy-Authorization"))
		p.mu.Unlock()
		_, _ = w.Write([]byte("through the proxy"))
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *proxy) got() (urls, auth []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.urls...), append([]string{}, p.auth...)
}

func TestVerifyNetworkFlags(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	px := newProxy(t)
	f := newFixture(t)
	const endpoint = "http://hooks.example.invalid/ping" // only the proxy could reach it

	res := f.run("verify", endpoint, "--egress-proxy", px.URL)
	if urls, _ := px.got(); res.code != exitOK || len(urls) != 1 || urls[0] != endpoint || !strings.Contains(res.stdout, "through the proxy") {
		t.Fatalf("verify --egress-proxy: %s\nthe proxy got %q", res, urls)
	}

	// A proxy URL with a password comes from the environment, and never
	// shows.
	withPassword := strings.Replace(px.URL, "http://", "http://relay:proxy-pass-7e3a@", 1)
	res = f.runEnv(append(f.env, "EGRESS_PROXY="+withPassword), "verify", endpoint, "--egress-proxy-env", "EGRESS_PROXY")
	if _, auth := px.got(); res.code != exitOK || len(auth) != 2 || !strings.HasPrefix(auth[1], "Basic ") {
		t.Fatalf("verify --egress-proxy-env: %s\nProxy-Authorization %q", res, auth)
	}
	if strings.Contains(res.stdout+res.stderr, "proxy-pass-7e3a") {
		t.Errorf("the proxy's password shows:\n%s", res)
	}

	// The guard checks the proxy's own address: a loopback proxy under
	// --deny-private needs --allow-network.
	res = f.run("verify", endpoint, "--egress-proxy", px.URL, "--deny-private")
	wantFailure(t, res, exitUsage, "--egress-proxy:", "list it with --allow-network")
	res = f.run("verify", endpoint, "--egress-proxy", px.URL, "--deny-private", "--allow-network", "127.0.0.1")
	if urls, _ := px.got(); res.code != exitOK || len(urls) != 3 {
		t.Fatalf("verify --egress-proxy --deny-private --allow-network 127.0.0.1: %s", res)
	}

	// Without a proxy, --allow-network opens a range --deny-private closes.
	if res := f.run("verify", rcv.URL+"/ok", "--deny-private"); res.code != exitFailure || !strings.Contains(res.stderr, "--allow-network CIDR lets a range through") {
		t.Errorf("verify --deny-private to a loopback endpoint: %s", res)
	}
	if res := f.run("verify", rcv.URL+"/ok", "--deny-private", "--allow-network", "127.0.0.0/8"); res.code != exitOK {
		t.Errorf("verify --deny-private --allow-network 127.0.0.0/8: %s", res)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--allow-network", "localhost"}, `--allow-network "localhost": want a CIDR such as 10.1.0.0/16 or fd00::/8, or one address such as 10.1.2.3`},
		{[]string{"--egress-proxy", "ftp://proxy.internal:21"}, "--egress-proxy ftp://proxy.internal:21: the scheme must be http, https, socks5 or socks5h"},
		{[]string{"--egress-proxy", "http://"}, "--egress-proxy http:: the URL has no host"},
		{[]string{"--egress-proxy", "http://u:proxy-pass-7e3a@proxy.internal:3128"}, "--egress-proxy http://u:xxxxx@proxy.internal:3128: the URL holds a password"},
		{[]string{"--egress-proxy-env", "NO_SUCH_VARIABLE"}, "--egress-proxy-env NO_SUCH_VARIABLE: the variable is not set or empty"},
		{[]string{"--egress-proxy", px.URL, "--egress-proxy-env", "EGRESS_PROXY"}, "--egress-proxy and --egress-proxy-env both name the proxy"},
	} {
		res := f.run(append([]string{"verify", endpoint}, tc.args...)...)
		wantFailure(t, res, exitUsage, tc.want)
		if strings.Contains(res.stderr, "proxy-pass-7e3a") {
			t.Errorf("%q: the proxy's password shows:\n%s", tc.args, res.stderr)
		}
	}
}

func TestServeAdminWorkerFlagsNeedWorkers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.migrate()
	env := append(f.env, envAdminPassword+"=open-sesame-42")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--deny-private", "--retain-history", "30d"}, "--deny-private, --retain-history configure the delivery workers: add --workers, or drop them"},
		{[]string{"--allow-network", "10.0.0.0/8"}, "--allow-network configure the delivery workers: add --workers"},
		{[]string{"--workers", "--retain-history", "0d"}, `--retain-history "0d": want a whole number of days from 1 to 36500`},
		{[]string{"--workers", "--retain-history", "soon"}, `--retain-history "soon": want a number of days (30d) or a duration`},
		{[]string{"--workers", "--allow-network", "10.0.0.0/40"}, `--allow-network "10.0.0.0/40": want a CIDR`},
		{[]string{"--workers", "--egress-proxy", "mysql://db:3306"}, "--egress-proxy mysql://db:3306: the scheme must be http, https, socks5 or socks5h"},
	} {
		res := f.runEnv(env, append([]string{"--db", f.db, "serve-admin", "--addr", "127.0.0.1:0"}, tc.args...)...)
		wantFailure(t, res, exitUsage, tc.want, "Run 'webhookctl help serve-admin'")
	}
}

// TestServeAdminWorkersUseNetworkAndRetentionFlags runs serve-admin
// --workers in-process: its workers prune old history with
// --retain-history, are refused a loopback endpoint with --deny-private,
// and reach it once --allow-network lets it through.
func TestServeAdminWorkersUseNetworkAndRetentionFlags(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	f := newFixture(t)
	setupWebhooks(t, f, rcv)
	seedOldHistory(t, f, 3)
	ctx := context.Background()
	lib := libClient(t, f, webhook.Config{})
	ids, err := lib.Enqueue(ctx, "template_create", []webhook.Scope{{Type: "biz", Code: "biz1"}}, nil)
	if err != nil || len(ids) != 1 {
		t.Fatalf("Enqueue = %v, %v", ids, err)
	}
	env := map[string]string{envSecret: testSecret, envAdminPassword: "open-sesame-42"}
	serveAdmin := func(t *testing.T, done func() bool, flags ...string) string {
		t.Helper()
		runCtx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		var stdout, stderr syncBuffer
		exit := make(chan int, 1)
		args := append([]string{"--db", f.db, "serve-admin", "--addr", "127.0.0.1:0", "--workers"}, flags...)
		go func() { exit <- run(runCtx, args, func(k string) string { return env[k] }, &stdout, &stderr) }()
		waitFor(t, "the workers of serve-admin "+strings.Join(flags, " "), func() bool {
			select {
			case code := <-exit:
				t.Fatalf("serve-admin %q ended with exit %d:\n%s%s", flags, code, stdout.String(), stderr.String())
			default:
			}
			return done()
		})
		cancel()
		if code := <-exit; code != exitOK {
			t.Errorf("serve-admin %q: exit %d\n%s", flags, code, stderr.String())
		}
		return stdout.String()
	}
	attempts := func() []webhook.History {
		rows, err := lib.History(ctx, webhook.HistoryQuery{DeliveryID: ids[0]})
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	oldRows := func() int64 {
		var n int64
		openTestDB(t, f.db).Table("webhook_history").Where("created_at < ?", time.Now().Add(-30*24*time.Hour)).Count(&n)
		return n
	}

	out := serveAdmin(t, func() bool {
		rows := attempts()
		return oldRows() == 0 && len(rows) > 0 && strings.Contains(rows[0].Error, "endpoint address is forbidden")
	}, "--deny-private", "--retain-history", "30d")
	if want := "delivery workers running: loopback, private, link-local and metadata addresses refused; history pruned hourly past 30d\n"; !strings.Contains(out, want) {
		t.Errorf("serve-admin stdout lacks %q:\n%s", want, out)
	}
	if len(rcv.requests("/ok")) != 0 {
		t.Fatal("--deny-private let a request to a loopback endpoint through")
	}

	if err := lib.Redeliver(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	out = serveAdmin(t, func() bool { return len(rcv.requests("/ok")) == 1 }, "--deny-private", "--allow-network", "127.0.0.0/8")
	if want := "delivery workers running: loopback, private, link-local and metadata addresses refused; allowed: 127.0.0.0/8; history kept\n"; !strings.Contains(out, want) {
		t.Errorf("serve-admin stdout lacks %q:\n%s", want, out)
	}
}
