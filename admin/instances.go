package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The instances page: the processes running delivery workers
// (Client.Instances), alive or dead, and what they hold. One query.

type instanceView struct {
	ID, Host, Version   string
	PID, Workers        int
	Started, StartedAgo string
	LastSeen, SeenAgo   string
	Alive               bool
	Leased              int
}

type instancesData struct {
	Rows        []instanceView
	Alive, Dead int
	Leased      int64
	PendingLink string
}

func (h *handler) instances(w http.ResponseWriter, r *http.Request) error {
	list, err := h.client.Instances(r.Context())
	if err != nil {
		return htmlview.Failed("list the worker instances", err)
	}
	now := h.now()
	d := instancesData{PendingLink: h.link("/deliveries", url.Values{"status": {webhook.StatusPending}})}
	for _, in := range list {
		d.Rows = append(d.Rows, instanceView{
			ID: in.ID, Host: in.Host, Version: in.Version, PID: in.PID, Workers: in.Workers,
			Started: htmlview.Time(in.StartedAt), StartedAgo: fmtRelative(in.StartedAt, now),
			LastSeen: htmlview.Time(in.LastSeen), SeenAgo: fmtRelative(in.LastSeen, now),
			Alive: in.Alive, Leased: int(in.Leased),
		})
		if in.Alive {
			d.Alive++
		} else {
			d.Dead++
		}
		d.Leased += in.Leased
	}
	return h.render(w, r, "instances", "Instances", "instances", d)
}

// fmtRelative says how far t is from now: "in 40 s", "3 min ago", "now".
func fmtRelative(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d < 0:
		return "in " + fmtSpan(-d)
	}
	return fmtSpan(d) + " ago"
}

// fmtSpan says how long d is, roughly: "40 s", "3 min", "5 h", "3 days";
// "0 s" under a second.
func fmtSpan(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0)/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days"
}
