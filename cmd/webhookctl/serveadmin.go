package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/admin"
)

// envAdminPassword holds the admin UI's password: never a flag, which ps
// would show.
const envAdminPassword = "WEBHOOK_ADMIN_PASSWORD"

func serveAdminCommand() *command {
	return &command{
		name:     "serve-admin",
		synopsis: "[--addr 127.0.0.1:8080] [--user admin] [--prefix /admin] [--workers [--deny-private] [--allow-network CIDR ...] [--egress-proxy URL] [--retain-history AGE]]",
		summary:  "serve the admin web UI (deliveries, webhooks, events) over HTTP",
		help: `Serves the operator web UI of package admin: deliveries with search and
filters, each attempt's request and response (credentials redacted),
redelivery, webhooks with their state, events, subscriptions, scopes and an
overview chart. Access needs HTTP basic auth: the user is --user and the
password is read from ` + envAdminPassword + ` (required; never a flag, which ps
would show). The UI has no TLS of its own: keep --addr on loopback, or put
it behind a TLS-terminating proxy.

Redeliveries made from the UI are sent by the service's delivery workers;
--workers also runs workers in this process (for a database no service
works on), which needs the service's private secret in ` + envSecret + `: the
UI alone decrypts no credential and runs without it. Stops on Ctrl-C or
SIGTERM, finishing requests in flight.

With --workers, the workers send under the SSRF guard as the service's
would: link-local and cloud metadata addresses are always refused;
--deny-private (Config.DenyPrivateNetworks) also refuses loopback and
private addresses, --allow-network CIDR (AllowNetworks) lets a range
through, --egress-proxy URL (EgressProxy; --egress-proxy-env VAR for a URL
with a password) sends every request through an egress proxy. And
--retain-history AGE (RetainHistory) makes them delete, every hour, the
history and finished deliveries older than AGE (30d, 720h); without it
nothing is deleted (see 'prune'). These flags need --workers: the UI alone
sends nothing.`,
		example: progName + " --db /srv/app/webhook.db serve-admin --addr 127.0.0.1:8080      # with " + envAdminPassword + " set\n" +
			progName + " --db 'postgres://app@db/app' serve-admin --addr 127.0.0.1:9000 --prefix /admin --workers\n" +
			progName + " --db /srv/app/webhook.db serve-admin --addr 127.0.0.1:8080 --workers --deny-private --allow-network 10.20.0.0/16 --retain-history 30d",
		setup: setupOf[serveAdminCmd],
	}
}

// serveAdminCmd is the serve-admin command.
type serveAdminCmd struct {
	addr, user, prefix string
	workers            bool
	net                networkFlags
	retainHistory      string
}

func (c *serveAdminCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
	fs.StringVar(&c.user, "user", "admin", "the basic-auth `USER`")
	fs.StringVar(&c.prefix, "prefix", "", "serve the UI under `PATH`, such as /admin (default: the root)")
	fs.BoolVar(&c.workers, "workers", false, "also run delivery workers in this process")
	c.net.register(fs)
	fs.StringVar(&c.retainHistory, "retain-history", "", "with --workers, delete every hour the history and finished deliveries older than `AGE` (30d, 720h), as the service's RetainHistory does (default: keep everything)")
}

func (c *serveAdminCmd) run(ctx context.Context, a *app, args []string) error {
	if err := noArgs("serve-admin", args, "give the address with --addr"); err != nil {
		return err
	}
	p := strings.TrimSuffix(c.prefix, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		return usageErrorf("--prefix %q: want a path starting with /, such as /admin", c.prefix)
	}
	given := c.net.given()
	if c.retainHistory != "" {
		given = append(given, "--retain-history")
	}
	if !c.workers && len(given) > 0 {
		return usageErrorf("%s configure the delivery workers: add --workers, or drop them (the admin UI alone sends nothing)", strings.Join(given, ", "))
	}
	eg, err := c.net.resolve(a.getenv)
	if err != nil {
		return err
	}
	var retain time.Duration
	if c.retainHistory != "" {
		if retain, err = parseAge("retain-history", c.retainHistory); err != nil {
			return err
		}
	}
	password := a.getenv(envAdminPassword)
	if password == "" || c.user == "" {
		return usageErrorf("%s is not set: the admin UI needs a password (and --user); set it in the environment, not on the command line", envAdminPassword)
	}
	var client *webhook.Client
	if c.workers {
		cfg, err := a.clientConfig()
		if err != nil {
			return err
		}
		eg.applyTo(&cfg)
		cfg.RetainHistory = retain
		client, err = a.openClient(false, cfg, true)
		if err != nil {
			return err
		}
	} else if client, err = a.clientWithoutSecret(false); err != nil { // the UI decrypts no credential
		return err
	}
	h, err := admin.NewHandler(client, admin.Options{BasicAuthUser: c.user, BasicAuthPassword: password, Prefix: p})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	if p == "" {
		mux.Handle("/", h)
	} else {
		mux.Handle(p+"/", http.StripPrefix(p, h))
		mux.Handle("/", http.RedirectHandler(p+"/", http.StatusFound))
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.addr, err)
	}
	if c.workers {
		if err := client.Start(ctx); err != nil {
			ln.Close()
			return err
		}
		defer stopWorkers(client)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(a.stdout, "admin UI on http://%s%s/ (user %q)\n", ln.Addr(), p, c.user)
	if c.workers {
		kept := "kept"
		if retain > 0 {
			kept = "pruned hourly past " + formatAge(retain)
		}
		fmt.Fprintf(a.stdout, "delivery workers running: %s; history %s\n", eg.describe(), kept)
	}
	errc := make(chan error, 1)
	go serve(srv, ln, errc)
	select {
	case err := <-errc:
		return fmt.Errorf("serving the admin UI: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stopping the admin UI: %w", err)
	}
	fmt.Fprintln(a.stdout, "admin UI stopped")
	return nil
}

// serve runs srv on ln and sends its error to errc.
func serve(srv *http.Server, ln net.Listener, errc chan<- error) { errc <- srv.Serve(ln) }

// stopWorkers stops the workers of c, giving deliveries in flight 30
// seconds to finish.
func stopWorkers(c *webhook.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = c.Stop(ctx)
}
