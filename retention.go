package webhook

import (
	"context"
	"fmt"
	"time"
)

// pruneBatch is how many rows one DELETE removes, so that pruning never
// holds a table's locks for long.
const pruneBatch = 1000

// PruneResult counts what PruneHistory deleted.
type PruneResult struct {
	History    int64
	Deliveries int64
}

// pruneStep is one table PruneHistory deletes from.
type pruneStep struct {
	table, where string
	args         []any
	count        *int64
}

// pruneSteps are the rows PruneHistory deletes at cutoff, counted in res.
func pruneSteps(cutoff time.Time, res *PruneResult) []pruneStep {
	return []pruneStep{
		{"webhook_history", "created_at < ?", []any{cutoff}, &res.History},
		{"webhook_delivery", "status IN (?, ?, ?) AND next_attempt_at < ?", []any{StatusSucceeded, StatusFailed, StatusCancelled, cutoff}, &res.Deliveries},
	}
}

// CountPrunable counts what PruneHistory(ctx, olderThan) would delete now,
// deleting nothing (a dry run).
func (c *Client) CountPrunable(ctx context.Context, olderThan time.Duration) (PruneResult, error) {
	var res PruneResult
	if olderThan <= 0 {
		return res, fmt.Errorf("%w: olderThan must be positive, not %s", ErrInvalidArgument, olderThan)
	}
	for _, step := range pruneSteps(c.now().Add(-olderThan).UTC(), &res) {
		if err := c.dbCtx(ctx).Table(step.table).Where(step.where, step.args...).Count(step.count).Error; err != nil {
			return res, fmt.Errorf("webhook: counting prunable rows of %s: %w", step.table, err)
		}
	}
	return res, nil
}

// PruneHistory deletes history rows created more than olderThan ago and
// finished outbox deliveries (succeeded, failed, cancelled) that finished
// more than olderThan ago, in batches of 1,000 rows, each its own statement.
// Pending deliveries are never deleted. It can be interrupted through ctx
// and called again. Config.RetainHistory makes the workers call it hourly.
func (c *Client) PruneHistory(ctx context.Context, olderThan time.Duration) (PruneResult, error) {
	var res PruneResult
	if olderThan <= 0 {
		return res, fmt.Errorf("%w: olderThan must be positive, not %s", ErrInvalidArgument, olderThan)
	}
	cutoff := c.now().Add(-olderThan).UTC()
	for _, step := range pruneSteps(cutoff, &res) {
		for {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			q := "DELETE FROM " + step.table + " WHERE id IN (SELECT id FROM " + step.table + " WHERE " + step.where + " ORDER BY id LIMIT ?)"
			r := c.dbCtx(ctx).Exec(q, append(append([]any{}, step.args...), pruneBatch)...)
			if r.Error != nil {
				return res, fmt.Errorf("webhook: pruning %s: %w", step.table, r.Error)
			}
			*step.count += r.RowsAffected
			if r.RowsAffected < pruneBatch {
				break
			}
		}
	}
	return res, nil
}
