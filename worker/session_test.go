package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/session"
	"github.com/roamnode/roamnode/worker"
)

// A duplicate enqueue of the same step is a no-op; the next attempt of a
// retried match is a task of its own.
func TestSessionQueueDeduplicates(t *testing.T) {
	ctx := context.Background()
	opt, err := redis.ParseURL(dbtest.RedisURL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	q := worker.NewSessionQueue(rdb)
	in := asynq.NewInspectorFromRedisClient(rdb)
	id := uuid.Must(uuid.NewV7())
	later := time.Now().Add(time.Hour) // scheduled, so no worker takes it meanwhile
	ids := []string{worker.SessionTaskID(id, session.Matching, 1), worker.SessionTaskID(id, session.Matching, 2)}
	t.Cleanup(func() {
		for _, tid := range ids {
			_ = in.DeleteTask("default", tid)
		}
	})
	require.NoError(t, q.Enqueue(ctx, id, session.Matching, 1, later))
	require.NoError(t, q.Enqueue(ctx, id, session.Matching, 1, later), "duplicate is a no-op")
	require.NoError(t, q.Enqueue(ctx, id, session.Matching, 2, later))
	for _, tid := range ids {
		info, err := in.GetTaskInfo("default", tid)
		require.NoError(t, err, tid)
		require.Equal(t, worker.TaskSessionProcess, info.Type)
	}
	require.NotEqual(t, ids[0], ids[1])
}
