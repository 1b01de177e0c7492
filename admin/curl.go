package admin

import (
	"bytes"
	"net/url"
	"sort"
	"strings"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// curlCommand rebuilds a recorded request as a curl command line for a
// POSIX shell: method, URL (with the webhook's query parameters), headers
// and body, every argument single-quoted. The request is the one history
// holds, so its credentials are the redacted placeholders the library
// recorded, never the real values. It returns "" when no request was
// recorded.
func curlCommand(req webhook.HistoryRequest) string {
	if req.URL == "" {
		return ""
	}
	first := "curl"
	if req.Method != "" {
		first += " -X " + shellWord(req.Method)
	}
	args := []string{first + " " + shellQuote(requestURL(req))}
	names := make([]string, 0, len(req.Header))
	for k := range req.Header {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	for _, k := range names {
		args = append(args, "-H "+shellQuote(k+": "+req.Header[k]))
	}
	switch {
	case len(bytes.TrimSpace(req.JSON)) > 0:
		args = append(args, "--data-raw "+shellQuote(string(req.JSON)))
	case req.Form != "":
		args = append(args, "--data-raw "+shellQuote(req.Form))
	}
	return strings.Join(args, " \\\n  ")
}

// requestURL is the recorded URL with the recorded query parameters, as
// the request was sent.
func requestURL(req webhook.HistoryRequest) string {
	if len(req.Params) == 0 {
		return req.URL
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		q := url.Values{}
		for k, v := range req.Params {
			q.Set(k, htmlview.ValueText(v))
		}
		return req.URL + "?" + q.Encode()
	}
	q := u.Query()
	for k, v := range req.Params {
		q.Set(k, htmlview.ValueText(v))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// shellWord is s as one word of a POSIX shell: itself when it is letters
// only (an HTTP method), else quoted.
func shellWord(s string) string {
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') {
			return shellQuote(s)
		}
	}
	if s == "" {
		return "''"
	}
	return s
}

// shellQuote quotes s as one word of a POSIX shell: inside single quotes
// nothing is special but the single quote itself, written '\”. A NUL byte,
// which no argument can hold, is dropped.
func shellQuote(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
