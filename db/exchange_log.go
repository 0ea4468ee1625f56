package db

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/roamnode/roamnode/roaming"
)

// ExchangeLog stores OCPI exchanges in roaming_exchange. Recording is
// asynchronous and batched (COPY every flush interval or batch size), so
// that logging every request costs the request nothing; when the queue is
// full an exchange is dropped and counted rather than slowing partners down.
type ExchangeLog struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	ch      chan roaming.Exchange
	wg      sync.WaitGroup
	once    sync.Once
	dropped atomic.Int64
	flushed atomic.Int64
}

var _ roaming.Recorder = (*ExchangeLog)(nil)

const (
	exchangeBatch    = 500
	exchangeInterval = 200 * time.Millisecond
)

// NewExchangeLog starts the writer; Close flushes and stops it.
func NewExchangeLog(pool *pgxpool.Pool, log *slog.Logger, queue int) *ExchangeLog {
	l := &ExchangeLog{pool: pool, log: log, ch: make(chan roaming.Exchange, queue)}
	l.wg.Add(1)
	go l.run()
	return l
}

// Record queues an exchange; it never blocks.
func (l *ExchangeLog) Record(_ context.Context, e roaming.Exchange) {
	select {
	case l.ch <- e:
	default:
		if l.dropped.Add(1)%1000 == 1 {
			l.log.Warn("exchange log queue full, exchanges dropped", "dropped_total", l.dropped.Load())
		}
	}
}

// Dropped is how many exchanges were dropped because the queue was full.
func (l *ExchangeLog) Dropped() int64 { return l.dropped.Load() }

// Flushed is how many exchanges were written.
func (l *ExchangeLog) Flushed() int64 { return l.flushed.Load() }

// Close writes what is queued and stops the writer.
func (l *ExchangeLog) Close() {
	l.once.Do(func() { close(l.ch) })
	l.wg.Wait()
}

func (l *ExchangeLog) run() {
	defer l.wg.Done()
	batch := make([]roaming.Exchange, 0, exchangeBatch)
	tick := time.NewTicker(exchangeInterval)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-l.ch:
			if !ok {
				l.flush(batch)
				return
			}
			batch = append(batch, e)
			if len(batch) >= exchangeBatch {
				l.flush(batch)
				batch = batch[:0]
			}
		case <-tick.C:
			if len(batch) > 0 {
				l.flush(batch)
				batch = batch[:0]
			}
		}
	}
}

var exchangeColumns = []string{"id", "at", "direction", "connection_id", "country_code", "party_id", "method", "url",
	"http_status", "ocpi_status", "duration_ms", "request_id", "correlation_id", "request_body", "response_body", "error"}

func (l *ExchangeLog) flush(batch []roaming.Exchange) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Values are plain (a string, a uuid.UUID, an int32) or an untyped nil,
	// never pointers: pgx encodes a pointer through a slower generic plan
	// (about four times the cost of a row of plain values, 5 % of the
	// node's CPU per real-time authorization; docs/performance.md, round 4).
	rows := make([][]any, len(batch))
	for i, e := range batch {
		var conn, ocpiStatus any
		if e.ConnectionID != nil {
			conn = *e.ConnectionID
		}
		if e.OCPIStatus != nil {
			ocpiStatus = int32(*e.OCPIStatus)
		}
		rows[i] = []any{e.ID, e.At, string(e.Direction), conn, nullable(e.CountryCode), nullable(e.PartyID), e.Method, e.URL,
			int32(e.HTTPStatus), ocpiStatus, e.DurationMs, nullable(e.RequestID), nullable(e.CorrelationID),
			nullable(e.RequestBody), nullable(e.ResponseBody), nullable(e.Error)}
	}
	n, err := l.pool.CopyFrom(ctx, pgx.Identifier{"roaming_exchange"}, exchangeColumns, pgx.CopyFromRows(rows))
	if err != nil {
		l.log.Error("exchange log write failed", "exchanges", len(batch), "err", err)
		return
	}
	l.flushed.Add(n)
}

// nullable is s, or NULL when it is empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
