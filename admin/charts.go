package admin

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/scopehook/webhook"
	"github.com/scopehook/webhook/internal/htmlview"
)

// The overview's charts are inline SVG computed here and written out by
// html/template: no script, no image request, every label escaped. They
// have no viewBox: horizontal positions are percentages of the chart's
// width and vertical ones CSS pixels, so that the bars stretch with the
// page while the text keeps the size the stylesheet gives it, on a phone
// as on a wide screen.

type tick struct {
	Pos   float64
	Label string
	// Minor ticks are left out on narrow screens.
	Minor bool
}

type hourBar struct {
	X, W         float64 // percent of the plot's width
	OkY, OkH     float64
	FailY, FailH float64
	Title        string
}

type hourRow struct {
	Hour                          string
	Attempts, Successes, Failures int
}

// hourChart is a stacked bar chart of attempts per hour: successes at the
// bottom, failures on top. The y axis is a narrow SVG of its own beside the
// plot.
type hourChart struct {
	Height       float64
	AxisWidth    float64 // of the y axis's SVG
	PlotY, PlotH float64
	Bottom       float64 // PlotY + PlotH
	XLabelY      float64
	TitleY       float64
	Bars         []hourBar
	YTicks       []tick
	XTicks       []tick // Pos in percent
	Rows         []hourRow
	Attempts     int
	Failures     int
	Empty        bool
}

func buildHourChart(counts []webhook.HourlyCount) hourChart {
	c := hourChart{Height: 236, AxisWidth: 58, PlotY: 12, PlotH: 180}
	c.Bottom = c.PlotY + c.PlotH
	c.XLabelY, c.TitleY = c.Bottom+18, c.Bottom+38
	peak := 0
	for _, hc := range counts {
		peak = max(peak, hc.Attempts)
		c.Attempts += hc.Attempts
		c.Failures += hc.Failures
	}
	c.Empty = c.Attempts == 0
	step := niceStep(peak, 4)
	top := step * int(math.Ceil(float64(max(peak, 1))/float64(step)))
	for v := 0; v <= top; v += step {
		c.YTicks = append(c.YTicks, tick{Pos: c.Bottom - float64(v)/float64(top)*c.PlotH, Label: fmtTick(v, top)})
	}
	n := max(len(counts), 1)
	slot := 100 / float64(n)
	for i, hc := range counts {
		fails := min(max(hc.Failures, 0), hc.Attempts)
		ok := hc.Attempts - fails
		okH := float64(ok) / float64(top) * c.PlotH
		failH := float64(fails) / float64(top) * c.PlotH
		hour := hc.Hour.UTC()
		b := hourBar{
			X: float64(i)*slot + slot*0.14, W: slot * 0.72,
			OkY: c.Bottom - okH, OkH: okH,
			FailY: c.Bottom - okH - failH, FailH: failH,
			Title: fmt.Sprintf("%s–%s UTC: %d %s, %d failed", hour.Format("2006-01-02 15:04"), hour.Add(time.Hour).Format("15:04"),
				hc.Attempts, plural(hc.Attempts, "attempt", "attempts"), fails),
		}
		c.Bars = append(c.Bars, b)
		if i%3 == 0 || i == len(counts)-1 && i%3 == 2 {
			c.XTicks = append(c.XTicks, tick{Pos: (float64(i) + 0.5) * slot, Label: hour.Format("15:00"), Minor: i%6 != 0})
		}
		c.Rows = append(c.Rows, hourRow{Hour: hour.Format("2006-01-02 15:00"), Attempts: hc.Attempts, Successes: ok, Failures: fails})
	}
	return c
}

// fmtTick labels a value of an axis whose top is top: in thousands ("5k",
// "12.5k") when the top has five digits or more, so that every label of
// the axis fits its narrow column.
func fmtTick(v, top int) string {
	if top < 10_000 || v == 0 {
		return strconv.Itoa(v)
	}
	if top >= 10_000_000 {
		return trimZero(strconv.FormatFloat(float64(v)/1e6, 'f', 1, 64)) + "M"
	}
	return trimZero(strconv.FormatFloat(float64(v)/1e3, 'f', 1, 64)) + "k"
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) dividing
// peak into about n intervals.
func niceStep(peak, n int) int {
	if peak <= n {
		return 1
	}
	raw := float64(peak) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			return max(int(math.Round(m*mag)), 1)
		}
	}
	return max(int(math.Round(10*mag)), 1)
}

type rateRow struct {
	Y, LabelY, BarY    float64
	Pct                float64 // the bar's length, percent of the width
	Label              string
	Value              string
	Title              string
	Class              string
	Scope, Code        string
	Attempts, Failures int
	Rate               float64
	Links              hookLinks
}

// rateChart is a horizontal bar chart of the failure rate of each webhook:
// per webhook a line with its name (a link to it) and its rate, and a bar
// across the whole width below.
type rateChart struct {
	Height             float64
	BarH               float64
	AxisY, AxisLabelY  float64
	Rows               []rateRow
	Ticks              []tick // Pos in percent
	Attempts, Failures int
}

// maxRateLabel bounds the webhook name a row of the rate chart shows; the
// whole of it is in the row's title.
const maxRateLabel = 30

func buildRateChart(stats []webhook.WebhookStats, links func(webhook.Scope, string) hookLinks) rateChart {
	const rowH, top = 42.0, 4.0
	c := rateChart{BarH: 12}
	// Worst first; ties by scope and code (the order of WebhookStats).
	stats = slices.Clone(stats)
	slices.SortStableFunc(stats, func(a, b webhook.WebhookStats) int { return cmp.Compare(b.FailureRate(), a.FailureRate()) })
	for i, s := range stats {
		rate := s.FailureRate()
		y := top + float64(i)*rowH
		class := "ok"
		switch {
		case rate >= 0.5:
			class = "bad"
		case rate > 0:
			class = "warn"
		}
		r := rateRow{
			Y: y, LabelY: y + 14, BarY: y + 21, Pct: rate * 100,
			Label: htmlview.Clip(s.WebhookCode+" · "+s.Scope.String(), maxRateLabel),
			Value: fmt.Sprintf("%s (%d/%d)", htmlview.Percent(rate), s.Failures, s.Attempts),
			Title: fmt.Sprintf("%s %s: %d of %d attempts failed", s.Scope, s.WebhookCode, s.Failures, s.Attempts),
			Class: class, Scope: s.Scope.String(), Code: s.WebhookCode, Attempts: s.Attempts, Failures: s.Failures, Rate: rate,
			Links: links(s.Scope, s.WebhookCode),
		}
		c.Rows = append(c.Rows, r)
		c.Attempts += s.Attempts
		c.Failures += s.Failures
	}
	c.AxisY = top + float64(len(stats))*rowH
	c.AxisLabelY = c.AxisY + 14
	c.Height = c.AxisLabelY + 6
	for _, p := range []int{0, 25, 50, 75, 100} {
		c.Ticks = append(c.Ticks, tick{Pos: float64(p), Label: fmt.Sprintf("%d %%", p), Minor: p == 25 || p == 75})
	}
	return c
}
