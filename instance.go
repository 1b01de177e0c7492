package webhook

import (
	"context"
	"fmt"
	"time"
)

// instanceRow is one running set of workers (one Start), as it reports
// itself in the webhook_instance table. Its last_seen_at is its heartbeat:
// while it is recent, the deliveries the instance leased stay its own, however
// long their requests take; once it is older than the lease duration, they
// are claimable by any instance.
type instanceRow struct {
	ID         string    `gorm:"column:id;primaryKey;type:varchar(32)"`
	Host       string    `gorm:"column:host;type:varchar(255);not null"`
	PID        int       `gorm:"column:pid;not null"`
	Version    string    `gorm:"column:version;type:varchar(32);not null"`
	Workers    int       `gorm:"column:workers;not null"`
	StartedAt  time.Time `gorm:"column:started_at;not null"`
	LastSeenAt time.Time `gorm:"column:last_seen_at;not null"`
	// History rows the instance wrote, and failed to write, since it
	// started (written with each heartbeat).
	HistoryRows     int64 `gorm:"column:history_rows;not null;default:0"`
	HistoryFailures int64 `gorm:"column:history_failures;not null;default:0"`
	// Leased is how many deliveries the instance held at its last
	// heartbeat: counting the outbox's leases instead would read the row
	// of every pending delivery, millions in a backlog.
	Leased int64 `gorm:"column:leased;not null;default:0"`
}

func (instanceRow) TableName() string { return "webhook_instance" }

// Instance is a process running delivery workers, as Instances lists it.
type Instance struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	Workers   int       `json:"workers"`
	StartedAt time.Time `json:"started_at"`
	// LastSeen is its latest heartbeat.
	LastSeen time.Time `json:"last_seen"`
	// Alive reports whether the heartbeat is recent enough (within
	// Config.LeaseDuration) for its leases to hold.
	Alive bool `json:"alive"`
	// Leased is the number of deliveries it holds: claimed and not yet
	// recorded, as of its last heartbeat (heartbeats come every
	// Config.LeaseDuration/4). Zero for an instance that is not alive,
	// whose leases any instance may claim.
	Leased int64 `json:"leased"`
	// HistoryRows and HistoryFailures count the history rows the client
	// wrote, and failed to write (each failure counted once per try), since
	// it started; updated with each heartbeat.
	HistoryRows     int64 `json:"history_rows"`
	HistoryFailures int64 `json:"history_failures"`
}

// Instances lists the processes whose workers ran recently (within the
// last hour), newest first, with whether each is alive by its heartbeat.
func (c *Client) Instances(ctx context.Context) ([]Instance, error) {
	var rows []instanceRow
	now := c.now().UTC()
	if err := c.dbCtx(ctx).Where("last_seen_at >= ?", now.Add(-instanceForgetAfter)).Order("started_at DESC, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("webhook: listing instances: %w", err)
	}
	out := make([]Instance, len(rows))
	for i, r := range rows {
		out[i] = Instance{
			ID: r.ID, Host: r.Host, PID: r.PID, Version: r.Version, Workers: r.Workers,
			StartedAt: r.StartedAt, LastSeen: r.LastSeenAt,
			Alive:       r.LastSeenAt.After(now.Add(-c.cfg.LeaseDuration)),
			HistoryRows: r.HistoryRows, HistoryFailures: r.HistoryFailures,
		}
		if out[i].Alive {
			out[i].Leased = r.Leased
		}
	}
	return out, nil
}

// instanceForgetAfter is how long the row of an instance that stopped
// beating is kept, for operators to see that it died.
const instanceForgetAfter = time.Hour
