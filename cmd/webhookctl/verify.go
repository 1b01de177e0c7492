package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scopehook/webhook"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// verifyCmd is the verify command.
type verifyCmd struct {
	method     string
	bearerEnv  string
	headers    stringList
	headerEnvs stringList
	timeout    time.Duration
	net        networkFlags
}

func verifyCommand() *command {
	return &command{
		name:         "verify",
		synopsis:     "URL [--method POST] [--bearer-env VAR] [--header K=V ...] [--header-env K=VAR ...] [--timeout 5s] [--deny-private] [--allow-network CIDR ...] [--egress-proxy URL]",
		summary:      "send one test request to an endpoint and report the answer",
		interspersed: true,
		help: `Sends one request with the body of a "webhook_test" event to URL, as a
webhook configured with these flags would be sent (VerifyEndpoint): no
retry, nothing recorded, no database opened and no ` + envSecret + ` needed.
Prints the request line, the HTTP status, the time taken and the result
(ok, or the error).

Credentials never come from a flag value, which ps would show: --bearer-env
names the environment variable holding the bearer token, and --header-env
K=VAR sends header K with the value of the variable VAR. --header K=V is for
values that are not secret.

The SSRF guard applies as in the service: link-local and cloud metadata
addresses are always refused; loopback and private addresses are allowed
unless --deny-private (the service's Config.DenyPrivateNetworks) is given;
--allow-network CIDR (AllowNetworks) lets a refused range through, and
--egress-proxy URL (EgressProxy; --egress-proxy-env VAR for a URL with a
password) sends the request through the service's egress proxy. Give the
service's settings to test what it would do. Redirects are not followed.

Exit status: 0 when the endpoint answered 2xx, 1 otherwise (another status,
a network error, a timeout, an address the guard refuses), 2 for a bad URL
or flag, or an unset variable.`,
		example: progName + " verify https://service1.example.com/hooks --bearer-env SERVICE1_TOKEN --header X-Team=payments --timeout 5s\n" +
			progName + " verify https://erp.example.com/hooks --method GET --deny-private   # refuses a private or loopback address",
		setup: setupOf[verifyCmd],
	}
}

func (c *verifyCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.method, "method", "POST", "the HTTP `METHOD`, POST or GET (default POST)")
	fs.StringVar(&c.bearerEnv, "bearer-env", "", "send Authorization: Bearer with the token held by the environment variable `VAR`")
	fs.Var(&c.headers, "header", "send header `K=V` (not for secrets: use --header-env); repeat for several")
	fs.Var(&c.headerEnvs, "header-env", "send header K with the value of the environment variable VAR, given as `K=VAR`; repeat for several")
	fs.DurationVar(&c.timeout, "timeout", webhook.DefaultTimeout, "give up on the request after `DURATION` (default "+webhook.DefaultTimeout.String()+")")
	c.net.register(fs)
}

func (c *verifyCmd) run(ctx context.Context, a *app, args []string) error {
	return verify(ctx, a, args, c)
}

func verify(ctx context.Context, a *app, args []string, f *verifyCmd) error {
	if len(args) != 1 {
		return usageErrorf("verify takes 1 argument, URL, got %d", len(args))
	}
	if f.timeout <= 0 {
		return usageErrorf("--timeout %s: want a positive duration such as 5s", f.timeout)
	}
	wh := webhook.WebhookConfig{
		Code: "webhookctl-verify", Name: "webhookctl verify", Endpoint: args[0],
		Method: strings.ToUpper(f.method), Timeout: f.timeout,
	}
	if f.bearerEnv != "" {
		token := a.getenv(f.bearerEnv)
		if token == "" {
			return usageErrorf("--bearer-env %s: the variable is not set or empty: export it with the token", f.bearerEnv)
		}
		wh.Auth = &webhook.Auth{Type: "bearer", Token: token}
	}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return usageErrorf("--header %q: want KEY=VALUE", h)
		}
		wh.Headers = append(wh.Headers, webhook.Header{Key: k, Value: v})
	}
	for _, h := range f.headerEnvs {
		k, name, ok := strings.Cut(h, "=")
		if !ok || k == "" || name == "" {
			return usageErrorf("--header-env %q: want KEY=VAR, VAR naming an environment variable", h)
		}
		v := a.getenv(name)
		if v == "" {
			return usageErrorf("--header-env %s: the variable %s is not set or empty", k, name)
		}
		wh.Headers = append(wh.Headers, webhook.Header{Key: k, Value: v})
	}
	eg, err := f.net.resolve(a.getenv)
	if err != nil {
		return err
	}
	c, closeDB, err := verifyClient(eg)
	if err != nil {
		return err
	}
	defer closeDB()
	res, err := c.VerifyEndpoint(ctx, wh)
	if res == nil {
		if errors.Is(err, webhook.ErrInvalidWebhook) {
			return &usageError{err}
		}
		return err
	}
	status := "none (no response)"
	if res.StatusCode != 0 {
		status = fmt.Sprintf("%d %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	result := "ok"
	if !res.Success {
		result = "error"
		if res.Err != nil {
			result += ": " + printable(res.Err.Error())
		}
	}
	fmt.Fprintf(a.stdout, "request:  %s %s\nstatus:   %s\nduration: %s\nresult:   %s\n",
		res.Method, printable(redactedURL(args[0])), status, roundDuration(res.Duration), result)
	if res.StatusCode != 0 {
		body := truncate(string(res.ResponseBody), 2048)
		if body == "" {
			body = "(empty)"
		}
		fmt.Fprintf(a.stdout, "response: %s\n", printable(body))
	}
	if res.Success {
		return nil
	}
	var hint string
	switch {
	case errors.Is(res.Err, webhook.ErrForbiddenAddress):
		hint = "the SSRF guard refused the address: link-local and metadata addresses are always refused"
		if f.net.denyPrivate {
			hint += ", and loopback and private ones with --deny-private"
		}
		hint += "; --allow-network CIDR lets a range through, as the service's AllowNetworks does"
	case errors.Is(res.Err, context.DeadlineExceeded):
		hint = "the endpoint did not answer in time: check it is reachable, or raise --timeout"
	case errors.Is(res.Err, webhook.ErrUnexpectedStatus):
		hint = "the endpoint answered, but not with a 2xx status: check its logs, the URL, the method and the credentials"
	default:
		hint = "check the URL and that the endpoint is reachable from here"
	}
	return withHint(errors.New("the endpoint did not accept the test request"), hint)
}

// verifyClient returns a client for VerifyEndpoint, with the SSRF and
// egress settings eg. VerifyEndpoint touches no database and encrypts
// nothing: the library wants a database and a secret all the same, so it
// gets an in-memory one and a random one.
func verifyClient(eg egress) (*webhook.Client, func(), error) {
	db, err := gorm.Open(sqlite.Open("file::memory:"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, fmt.Errorf("preparing the test request: %w", err)
	}
	cfg := webhook.Config{PrivateSecret: rand.Text()}
	eg.applyTo(&cfg)
	c, err := webhook.New(db, cfg)
	if err != nil {
		closeDB(db)
		if errors.Is(err, webhook.ErrInvalidConfig) && cfg.EgressProxy != "" {
			return nil, nil, egressConfigError(err)
		}
		return nil, nil, fmt.Errorf("preparing the test request: %w", err)
	}
	return c, func() { closeDB(db) }, nil
}

// redactedURL returns a URL for printing: user information hidden, and
// nothing at all when it does not parse.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}
