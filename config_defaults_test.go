package webhook

import (
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
)

// configDefault is what one Config field's doc comment says of its default
// and what WithDefaults sets it to.
type configDefault struct {
	doc  string         // text the doc comment contains
	want any            // the default; nil when the zero value is kept
	is   func(any) bool // checks a default that == cannot compare
	desc string         // what is accepts, for failures
}

// isFunc returns a check that its argument is the function f.
func isFunc(f any) func(v any) bool {
	return func(v any) bool { return reflect.ValueOf(v).Pointer() == reflect.ValueOf(f).Pointer() }
}

// configDefaults lists every field of Config. A field added to Config fails
// TestConfigWithDefaults until it is listed here, with its documented
// default.
func configDefaults() map[string]configDefault {
	return map[string]configDefault{
		"PrivateSecret":           {doc: "Required"},
		"OldPrivateSecrets":       {doc: "Defaults to none"},
		"AllowShortPrivateSecret": {doc: "Defaults to false"},
		"LegacyFernet":            {doc: "Defaults to false"},
		"HTTPClient": {doc: "Defaults to a client with a pooled transport", is: func(v any) bool {
			c, _ := v.(*http.Client)
			if c == nil {
				return false
			}
			t, ok := c.Transport.(*http.Transport)
			return ok && t.Proxy == nil && t.MaxIdleConnsPerHost > http.DefaultMaxIdleConnsPerHost
		}, desc: "an *http.Client with a pooled *http.Transport and no proxy"},
		"Timeout":                {doc: "Defaults to DefaultTimeout", want: DefaultTimeout},
		"MaxConcurrency":         {doc: "Defaults to DefaultMaxConcurrency", want: DefaultMaxConcurrency},
		"MaxResponseBodyBytes":   {doc: "Defaults to DefaultMaxResponseBodyBytes", want: DefaultMaxResponseBodyBytes},
		"MaxResponseHeaderBytes": {doc: "Defaults to DefaultMaxResponseHeaderBytes", want: DefaultMaxResponseHeaderBytes},
		"MaxRetryDelay":          {doc: "Defaults to DefaultMaxRetryDelay", want: DefaultMaxRetryDelay},
		"Logger": {doc: "Defaults to a logger that discards everything", is: func(v any) bool {
			l, _ := v.(*slog.Logger)
			return l != nil && l.Handler() == slog.DiscardHandler
		}, desc: "slog.New(slog.DiscardHandler)"},
		"Now":                     {doc: "Defaults to time.Now", is: isFunc(time.Now), desc: "time.Now"},
		"Hooks":                   {doc: "Defaults to none"},
		"Workers":                 {doc: "Defaults to DefaultWorkers", want: DefaultWorkers},
		"ClaimBatch":              {doc: "Defaults to DefaultClaimBatch", want: DefaultClaimBatch},
		"PollInterval":            {doc: "Defaults to DefaultPollInterval", want: DefaultPollInterval},
		"LeaseDuration":           {doc: "Defaults to DefaultLeaseDuration", want: DefaultLeaseDuration},
		"MaxInFlightPerWebhook":   {doc: "Defaults to a quarter of Workers (at least 1)", want: DefaultWorkers / 4},
		"CircuitBreakAfter":       {doc: "Defaults to DefaultCircuitBreakAfter", want: DefaultCircuitBreakAfter},
		"CircuitProbeInterval":    {doc: "Defaults to DefaultCircuitProbeInterval", want: DefaultCircuitProbeInterval},
		"CircuitMaxProbeInterval": {doc: "Defaults to DefaultCircuitMaxProbeInterval", want: DefaultCircuitMaxProbeInterval},
		"RetryPolicy":             {doc: "Defaults to DefaultRetryPolicy", is: isFunc(DefaultRetryPolicy), desc: "DefaultRetryPolicy"},
		"DisableAfterFailures":    {doc: "Zero (the default) never does"},
		"DisableAfterFailingFor":  {doc: "Zero (the default) never does"},
		"RetainHistory":           {doc: "Zero (the default) keeps everything"},
		"DenyPrivateNetworks":     {doc: "Defaults to false"},
		"EgressProxy":             {doc: "Empty (the default) means no proxy"},
		"AllowNetworks":           {doc: "Defaults to none"},
		"Resolver":                {doc: "Defaults to net.DefaultResolver", want: net.DefaultResolver},
		"CheckEndpointsOnApply":   {doc: "Defaults to false"},
		"MaxPayloadBytes":         {doc: "Defaults to DefaultMaxPayloadBytes", want: DefaultMaxPayloadBytes},
		"MeterProvider":           {doc: "Defaults to the global provider (otel.GetMeterProvider)", want: otel.GetMeterProvider()},
		"TracerProvider":          {doc: "Defaults to the global provider", want: otel.GetTracerProvider()},
		"MetricWebhookAttributes": {doc: "Off by default"},
		"DisableTraceparent":      {doc: "Defaults to false"},
		"ResolveCacheTTL":         {doc: "Defaults to DefaultResolveCacheTTL", want: DefaultResolveCacheTTL},
	}
}

// TestConfigWithDefaults checks every field of a zero Config after
// WithDefaults against the default its doc comment states.
func TestConfigWithDefaults(t *testing.T) {
	t.Parallel()
	table := configDefaults()
	docs := configFieldDocs(t)
	got := reflect.ValueOf(Config{}.WithDefaults())
	typ := got.Type()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		d, ok := table[name]
		if !ok {
			t.Errorf("Config.%s is not in configDefaults: state its default in its doc comment, set it in WithDefaults if it is not the zero value, and list it", name)
			continue
		}
		delete(table, name)
		if !strings.Contains(docs[name], d.doc) {
			t.Errorf("the doc comment of Config.%s does not say %q:\n%s", name, d.doc, docs[name])
		}
		v := got.Field(i)
		switch {
		case d.is != nil:
			if !d.is(v.Interface()) {
				t.Errorf("WithDefaults sets Config.%s to %#v, want %s", name, v.Interface(), d.desc)
			}
		case d.want != nil:
			if v.Interface() != d.want {
				t.Errorf("WithDefaults sets Config.%s to %v, want %v", name, v.Interface(), d.want)
			}
		default:
			if !v.IsZero() {
				t.Errorf("WithDefaults sets Config.%s to %#v; its documented default is the zero value", name, v.Interface())
			}
		}
	}
	for name := range table {
		t.Errorf("configDefaults lists %s, which Config does not have", name)
	}
}

// configFieldDocs returns the doc comment of every field of Config, on one
// line.
func configFieldDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "webhook.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, fld := range ts.Type.(*ast.StructType).Fields.List {
			for _, id := range fld.Names {
				docs[id.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
			}
		}
		return false
	})
	if len(docs) == 0 {
		t.Fatal("type Config not found in webhook.go")
	}
	return docs
}

func TestConfigWithDefaultsKeepsWhatIsSet(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(nil, nil))
	hc := &http.Client{}
	set := Config{
		PrivateSecret: "secret", HTTPClient: hc, Timeout: time.Second, MaxConcurrency: 3,
		MaxResponseBodyBytes: 5, MaxResponseHeaderBytes: 7, MaxRetryDelay: time.Minute, Logger: logger,
		Workers: 40, ClaimBatch: 9, PollInterval: time.Second, LeaseDuration: time.Minute,
		CircuitBreakAfter: -1, CircuitProbeInterval: time.Hour, CircuitMaxProbeInterval: time.Second,
		RetainHistory: time.Hour, MaxPayloadBytes: 11,
	}
	got := set.WithDefaults()
	if got.HTTPClient != hc || got.Logger != logger {
		t.Error("WithDefaults replaced a set HTTPClient or Logger")
	}
	if got.Timeout != time.Second || got.MaxConcurrency != 3 || got.MaxResponseBodyBytes != 5 || got.MaxResponseHeaderBytes != 7 ||
		got.MaxRetryDelay != time.Minute || got.Workers != 40 || got.ClaimBatch != 9 || got.PollInterval != time.Second ||
		got.LeaseDuration != time.Minute || got.RetainHistory != time.Hour || got.MaxPayloadBytes != 11 {
		t.Errorf("WithDefaults changed a set value: %+v", got)
	}
	if got.CircuitBreakAfter != -1 {
		t.Errorf("CircuitBreakAfter = %d, want the -1 that turns the breaker off", got.CircuitBreakAfter)
	}
	if got.MaxInFlightPerWebhook != 10 {
		t.Errorf("MaxInFlightPerWebhook = %d, want a quarter of the 40 workers", got.MaxInFlightPerWebhook)
	}
	if got.CircuitMaxProbeInterval != time.Hour {
		t.Errorf("CircuitMaxProbeInterval = %v, want it raised to CircuitProbeInterval (1h)", got.CircuitMaxProbeInterval)
	}
	if one := (Config{Workers: 2}).WithDefaults(); one.MaxInFlightPerWebhook != 1 {
		t.Errorf("with 2 workers, MaxInFlightPerWebhook = %d, want at least 1", one.MaxInFlightPerWebhook)
	}
	if set.MaxInFlightPerWebhook != 0 || set.Now != nil {
		t.Error("WithDefaults changed its receiver")
	}
	if again := got.WithDefaults(); again.MaxInFlightPerWebhook != got.MaxInFlightPerWebhook || again.CircuitMaxProbeInterval != got.CircuitMaxProbeInterval {
		t.Error("WithDefaults is not idempotent")
	}
}

// TestNewUsesWithDefaults checks that the client works with exactly
// Config.WithDefaults: New sets no default of its own.
func TestNewUsesWithDefaults(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {Workers: 6, CircuitProbeInterval: 2 * time.Minute, Timeout: time.Second}} {
		cfg.PrivateSecret = testSecret
		c := newOfflineClient(t, cfg)
		want := reflect.ValueOf(cfg.WithDefaults())
		got := reflect.ValueOf(c.cfg)
		for i := range got.NumField() {
			name := got.Type().Field(i).Name
			g, w := got.Field(i), want.Field(i)
			switch g.Kind() {
			case reflect.Func:
				if g.Pointer() != w.Pointer() {
					t.Errorf("Client.cfg.%s is not the WithDefaults one", name)
				}
			case reflect.Pointer:
				if g.IsNil() != w.IsNil() || !g.IsNil() && g.Elem().Type() != w.Elem().Type() {
					t.Errorf("Client.cfg.%s = %v, WithDefaults gives %v", name, g, w)
				}
			default:
				if !reflect.DeepEqual(g.Interface(), w.Interface()) {
					t.Errorf("Client.cfg.%s = %v, WithDefaults gives %v", name, g.Interface(), w.Interface())
				}
			}
		}
		if c.log != c.cfg.Logger || c.resolver != c.cfg.Resolver || c.maxConcurrency != c.cfg.MaxConcurrency {
			t.Error("the client's logger, resolver or concurrency is not its configuration's")
		}
	}
}
