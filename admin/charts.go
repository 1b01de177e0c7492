package admin

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/scopehook/webhook"
)

// The overview's charts are inline SVG computed here and written out by
// html/template: no script, no image request, every label escaped.

type tick struct {
	Pos   float64
	Label string
}

type hourBar struct {
	X, W         float64
	OkY, OkH     float64
	FailY, FailH float64
	Title        string
}

type hourRow struct {
	Hour                          string
	Attempts, Successes, Failures int
}

// hourChart is a stacked bar chart of attempts per hour: successes at the
// bottom, failures on top.
type hourChart struct {
	Width, Height              float64
	PlotX, PlotY, PlotW, PlotH float64
	Bottom                     float64 // PlotY + PlotH
	Right                      float64 // PlotX + PlotW
	Bars                       []hourBar
	YTicks                     []tick
	XTicks                     []tick
	Rows                       []hourRow
	Attempts, Failures         int
	Empty                      bool
}

func buildHourChart(counts []webhook.HourlyCount) hourChart {
	c := hourChart{Width: 760, Height: 250, PlotX: 48, PlotY: 12, PlotW: 700, PlotH: 190}
	c.Bottom, c.Right = c.PlotY+c.PlotH, c.PlotX+c.PlotW
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
		c.YTicks = append(c.YTicks, tick{Pos: c.Bottom - float64(v)/float64(top)*c.PlotH, Label: fmt.Sprint(v)})
	}
	n := max(len(counts), 1)
	slot := c.PlotW / float64(n)
	for i, hc := range counts {
		fails := min(max(hc.Failures, 0), hc.Attempts)
		ok := hc.Attempts - fails
		okH := float64(ok) / float64(top) * c.PlotH
		failH := float64(fails) / float64(top) * c.PlotH
		x := c.PlotX + float64(i)*slot + slot*0.14
		hour := hc.Hour.UTC()
		b := hourBar{
			X: x, W: slot * 0.72,
			OkY: c.Bottom - okH, OkH: okH,
			FailY: c.Bottom - okH - failH, FailH: failH,
			Title: fmt.Sprintf("%s–%s UTC: %d %s, %d failed", hour.Format("2006-01-02 15:04"), hour.Add(time.Hour).Format("15:04"),
				hc.Attempts, plural(hc.Attempts, "attempt", "attempts"), fails),
		}
		c.Bars = append(c.Bars, b)
		if i%3 == 0 || i == len(counts)-1 && i%3 == 2 {
			c.XTicks = append(c.XTicks, tick{Pos: c.PlotX + (float64(i)+0.5)*slot, Label: hour.Format("15:00")})
		}
		c.Rows = append(c.Rows, hourRow{Hour: hour.Format("2006-01-02 15:00"), Attempts: hc.Attempts, Successes: ok, Failures: fails})
	}
	return c
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
	Y, TextY, BarLen, ValueX float64
	Label                    string
	Value                    string
	Title                    string
	Class                    string
	Scope, Code              string
	Attempts, Failures       int
	Rate                     float64
}

// rateChart is a horizontal bar chart of the failure rate of each webhook.
type rateChart struct {
	Width, Height       float64
	BarX, BarW          float64
	AxisY, AxisLabelY   float64
	BarH                float64
	Rows                []rateRow
	Ticks               []tick
	Attempts, Failures  int
	WorstRate           float64
	WorstScope, WorstWH string
}

func buildRateChart(stats []webhook.WebhookStats) rateChart {
	const rowH, top = 26.0, 6.0
	c := rateChart{Width: 780, BarX: 230, BarW: 400, BarH: 16}
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
		label := clip(s.Scope.String()+" "+s.WebhookCode, 32)
		r := rateRow{
			Y: y + (rowH-c.BarH)/2, TextY: y + rowH/2 + 4, BarLen: rate * c.BarW, ValueX: c.BarX + c.BarW + 8,
			Label: label, Value: fmt.Sprintf("%s (%d/%d)", fmtPercent(rate), s.Failures, s.Attempts),
			Title: fmt.Sprintf("%s %s: %d of %d attempts failed", s.Scope, s.WebhookCode, s.Failures, s.Attempts),
			Class: class, Scope: s.Scope.String(), Code: s.WebhookCode, Attempts: s.Attempts, Failures: s.Failures, Rate: rate,
		}
		c.Rows = append(c.Rows, r)
		c.Attempts += s.Attempts
		c.Failures += s.Failures
		if rate > c.WorstRate {
			c.WorstRate, c.WorstScope, c.WorstWH = rate, s.Scope.String(), s.WebhookCode
		}
	}
	c.AxisY = top + float64(len(stats))*rowH + 2
	c.AxisLabelY = c.AxisY + 16
	c.Height = c.AxisLabelY + 8
	for _, p := range []int{0, 25, 50, 75, 100} {
		c.Ticks = append(c.Ticks, tick{Pos: c.BarX + float64(p)/100*c.BarW, Label: fmt.Sprintf("%d %%", p)})
	}
	return c
}
