package portal

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// lang is one language's messages, as the templates use them.
type lang struct {
	Tag  string
	msgs map[string]string
}

func newLang(tag string, msgs map[string]string) *lang { return &lang{Tag: tag, msgs: msgs} }

// T returns the message key, formatted with args (fmt verbs). A missing
// key shows as itself; the tests make sure none is missing.
func (l *lang) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return m
	}
	return fmt.Sprintf(m, args...)
}

// TN is T for a count: the key's ".one" form when n is 1 and the language
// has one, the key itself otherwise; n is the first argument.
func (l *lang) TN(key string, n int, args ...any) string {
	if n == 1 {
		if _, ok := l.msgs[key+".one"]; ok {
			key += ".one"
		}
	}
	return l.T(key, append([]any{n}, args...)...)
}

// lang picks the language of a request: Options.Language, or the best
// match of the browser's Accept-Language, or English.
func (h *handler) lang(r *http.Request) *lang {
	tag := h.language
	if tag == "" {
		tag = negotiate(r.Header.Get("Accept-Language"))
	}
	return newLang(tag, h.catalogs[tag])
}

// negotiate reads an Accept-Language header and returns the language the
// portal speaks that the browser prefers, English when it prefers none.
func negotiate(header string) string {
	type choice struct {
		tag string
		q   float64
		pos int
	}
	var choices []choice
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				} else {
					q = 0
				}
			}
		}
		if l, ok := matchLanguage(strings.TrimSpace(tag)); ok && q > 0 {
			choices = append(choices, choice{l, q, i})
		}
		if i > 32 {
			break
		}
	}
	sort.SliceStable(choices, func(i, j int) bool { return choices[i].q > choices[j].q })
	if len(choices) == 0 {
		return English
	}
	return choices[0].tag
}

// matchLanguage maps a language tag to one the portal speaks: any "zh"
// (Traditional Chinese too: closer to its readers than English) to
// SimplifiedChinese, any "en" to English.
func matchLanguage(tag string) (string, bool) {
	t := strings.ToLower(strings.ReplaceAll(tag, "_", "-"))
	switch {
	case t == "en" || strings.HasPrefix(t, "en-"):
		return English, true
	case t == "zh" || strings.HasPrefix(t, "zh-"):
		return SimplifiedChinese, true
	}
	return "", false
}
