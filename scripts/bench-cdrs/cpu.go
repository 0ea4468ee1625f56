package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/roamnode/roamnode/db/dbtest"
)

// cpuMeter adds up the CPU time a phase costs on the machine: this process
// (node, worker and load generator), the Postgres backends serving the
// benchmark's database, Postgres' own background processes (WAL writer,
// checkpointer, …: cluster-wide, so other tenants' writes count there
// too), and redis-server (likewise shared). Rates on a shared machine are
// noisy; CPU per CDR is what compares between runs (docs/performance.md).
type cpuMeter struct {
	d   *dbtest.Database
	rdb *redis.Client
}

// cpuSample is the CPU seconds used so far by each part.
type cpuSample struct {
	self, backends, pgAux, redis float64
	backendTicks                 map[int]float64 // per backend pid, to count backends that appear mid-phase from zero
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTicks = 100

func procCPU(pid int) (float64, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')') // the command may contain spaces
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state); utime is field 14, stime 15
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / clockTicks, true
}

func (m cpuMeter) sample(ctx context.Context) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	s.backendTicks = map[int]float64{}
	rows, err := m.d.Pool.Query(ctx, `SELECT pid, coalesce(datname = current_database(), false) FROM pg_stat_activity
		WHERE datname = current_database() OR backend_type <> 'client backend'`)
	if err == nil {
		for rows.Next() {
			var pid int
			var ours bool
			if rows.Scan(&pid, &ours) != nil {
				continue
			}
			t, ok := procCPU(pid)
			if !ok {
				continue
			}
			if ours {
				s.backendTicks[pid] = t
				s.backends += t
			} else {
				s.pgAux += t
			}
		}
		rows.Close()
	}
	if info, err := m.rdb.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
				if pid, err := strconv.Atoi(v); err == nil {
					s.redis, _ = procCPU(pid)
				}
			}
		}
	}
	return s
}

// since is the CPU used between an earlier sample and s. A backend that
// was not there at the start counts from zero; one that exited in between
// is lost (the pool keeps its connections for the whole run).
func (s cpuSample) since(e cpuSample) cpuSample {
	out := cpuSample{self: s.self - e.self, pgAux: s.pgAux - e.pgAux, redis: s.redis - e.redis}
	for pid, t := range s.backendTicks {
		out.backends += t - e.backendTicks[pid]
	}
	return out
}

// report prints the CPU of a phase of n CDRs: in total and per CDR.
func (s cpuSample) report(phase string, n int, wall time.Duration) {
	total := s.self + s.backends + s.pgAux + s.redis
	per := func(v float64) float64 { return v / float64(n) * 1000 }
	fmt.Printf("  cpu %s: %.2f ms per CDR (go %.2f, postgres backends %.2f, postgres background %.2f, redis %.2f); %.0f%% of 2 CPUs over %.1fs\n",
		phase, per(total), per(s.self), per(s.backends), per(s.pgAux), per(s.redis), total/wall.Seconds()/2*100, wall.Seconds())
}

// planReport prints, per prepared statement, how often the pool's idle
// connections planned it generically and how often custom (Postgres
// re-plans a statement on every execution when it judges a custom plan
// cheaper: docs/performance.md, "Pipeline with pricing", round 5). Only
// statements executed at least min times in total are listed.
func planReport(ctx context.Context, pool *pgxpool.Pool, min int64) {
	type plans struct{ generic, custom int64 }
	byStmt := map[string]*plans{}
	for _, c := range pool.AcquireAllIdle(ctx) {
		rows, err := c.Query(ctx, `SELECT left(regexp_replace(statement, '\s+', ' ', 'g'), 70), generic_plans, custom_plans
			FROM pg_prepared_statements WHERE statement NOT LIKE '%pg_prepared_statements%'`)
		if err == nil {
			for rows.Next() {
				var s string
				var g, cu int64
				if rows.Scan(&s, &g, &cu) == nil {
					if byStmt[s] == nil {
						byStmt[s] = &plans{}
					}
					byStmt[s].generic += g
					byStmt[s].custom += cu
				}
			}
			rows.Close()
		}
		c.Release()
	}
	keys := make([]string, 0, len(byStmt))
	for s, p := range byStmt {
		if p.generic+p.custom >= min {
			keys = append(keys, s)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return byStmt[keys[i]].custom > byStmt[keys[j]].custom })
	for _, s := range keys {
		fmt.Printf("  plans: %7d generic %7d custom  %s\n", byStmt[s].generic, byStmt[s].custom, s)
	}
}
