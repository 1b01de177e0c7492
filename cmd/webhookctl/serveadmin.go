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

	"github.com/scopehook/webhook/admin"
)

// envAdminPassword holds the admin UI's password: never a flag, which ps
// would show.
const envAdminPassword = "WEBHOOK_ADMIN_PASSWORD"

func serveAdminCommand() *command {
	return &command{
		name:     "serve-admin",
		synopsis: "[--addr 127.0.0.1:8080] [--user admin] [--prefix /admin] [--workers]",
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
SIGTERM, finishing requests in flight.`,
		example: progName + " --db /srv/app/webhook.db serve-admin --addr 127.0.0.1:8080      # with " + envAdminPassword + " set\n" +
			progName + " --db 'postgres://app@db/app' serve-admin --addr 127.0.0.1:9000 --prefix /admin --workers",
		setup: func(fs *flag.FlagSet) action {
			addr := fs.String("addr", "127.0.0.1:8080", "listen on `HOST:PORT`")
			user := fs.String("user", "admin", "the basic-auth `USER`")
			prefix := fs.String("prefix", "", "serve the UI under `PATH`, such as /admin (default: the root)")
			workers := fs.Bool("workers", false, "also run delivery workers in this process")
			return func(ctx context.Context, a *app, args []string) error {
				if err := noArgs("serve-admin", args, "give the address with --addr"); err != nil {
					return err
				}
				password := a.getenv(envAdminPassword)
				if password == "" || *user == "" {
					return usageErrorf("%s is not set: the admin UI needs a password (and --user); set it in the environment, not on the command line", envAdminPassword)
				}
				p := strings.TrimSuffix(*prefix, "/")
				if p != "" && !strings.HasPrefix(p, "/") {
					return usageErrorf("--prefix %q: want a path starting with /, such as /admin", *prefix)
				}
				// The UI decrypts no credential; the workers do.
				open := a.clientWithoutSecret
				if *workers {
					open = a.client
				}
				c, err := open(false)
				if err != nil {
					return err
				}
				h, err := admin.NewHandler(c, admin.Options{BasicAuthUser: *user, BasicAuthPassword: password, Prefix: p})
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
				ln, err := net.Listen("tcp", *addr)
				if err != nil {
					return fmt.Errorf("listening on %s: %w", *addr, err)
				}
				if *workers {
					if err := c.Start(ctx); err != nil {
						return err
					}
					defer func() {
						sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						defer cancel()
						_ = c.Stop(sctx)
					}()
				}
				srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
				fmt.Fprintf(a.stdout, "admin UI on http://%s%s/ (user %q)\n", ln.Addr(), p, *user)
				errc := make(chan error, 1)
				go func() { errc <- srv.Serve(ln) }()
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
		},
	}
}
