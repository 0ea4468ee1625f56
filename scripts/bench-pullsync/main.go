// Command bench-pullsync measures a pull synchronisation of a large partner
// network: it serves a fake CPO whose Locations sender lists -evses EVSEs
// (-per-location per location, -page locations per page, Link headers),
// starts a real roamnode node (built from this repository) on a database of
// its own, lets the node pull the whole network through its worker, and
// reports the duration and the node's peak resident memory (VmHWM).
//
//	go run ./scripts/bench-pullsync                  # 50,000 EVSEs
//	go run ./scripts/bench-pullsync -evses 200000
//
// Postgres comes from DATABASE_URL (a database is cloned from the migrated
// template and dropped at the end), Redis from BENCH_REDIS_URL (default
// redis://127.0.0.1:6379/10, a database index no test uses). Targets (issue
// 4): 50,000 EVSEs in under 60 s with the node under 300 MB.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/domain/partner"
	"github.com/roamnode/roamnode/roaming"
)

func main() {
	evses := flag.Int("evses", 50000, "EVSEs in the partner's network")
	perLoc := flag.Int("per-location", 5, "EVSEs per location")
	page := flag.Int("page", 500, "locations per page of the partner's sender")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	if err := run(*evses, *perLoc, *page, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "bench-pullsync:", err)
		os.Exit(1)
	}
}

func run(evses, perLoc, pageSize int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	locations := (evses + perLoc - 1) / perLoc

	// 1. The fake CPO.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cpo := &fakeCPO{base: "http://" + ln.Addr().String(), locations: locations, perLoc: perLoc, evses: evses, page: pageSize}
	go func() { _ = http.Serve(ln, cpo) }()

	// 2. The node's database, with a registered connection to the CPO.
	d, err := dbtest.New(ctx)
	if err != nil {
		return err
	}
	defer d.Close()
	connID, err := seed(ctx, d, cpo.base)
	if err != nil {
		return err
	}

	// 3. The node.
	root, err := repoRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(os.TempDir(), "roamnode-bench-pullsync")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/roamnode")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build roamnode: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	redisURL := os.Getenv("BENCH_REDIS_URL")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/10"
	}
	secret := uuid.NewString()
	node := exec.Command(bin, "serve", "--no-migrate")
	node.Env = append(os.Environ(), "DATABASE_URL="+d.DSN, "REDIS_URL="+redisURL, "ROAMNODE_LISTEN=127.0.0.1:"+port,
		"ROAMNODE_ADMIN_ID=bench", "ROAMNODE_ADMIN_SECRET="+secret, "ROAMNODE_ACCESS_LOG=false", "ROAMNODE_LOG_LEVEL=warn",
		"ROAMNODE_SYNC_INTERVAL=24h")
	node.Stdout, node.Stderr = io.Discard, os.Stderr
	if err := node.Start(); err != nil {
		return err
	}
	defer func() {
		_ = node.Process.Signal(syscall.SIGTERM)
		_ = node.Wait()
	}()
	admin := "http://127.0.0.1:" + port + "/main/v1"
	if err := waitReady("http://127.0.0.1:"+port+"/readyz", 30*time.Second); err != nil {
		return err
	}
	idle := rss(node.Process.Pid, "VmRSS")
	fmt.Printf("partner network: %d locations × %d EVSEs = %d EVSEs, %d locations per page\n", locations, perLoc, evses, pageSize)
	fmt.Printf("node started, RSS %.1f MB\n", idle)

	// 4. Ask for a full sync of locations and wait for it.
	wall := time.Now()
	if err := call("POST", admin+"/roaming-connection/"+connID.String()+"/sync?module=locations&full=true", secret, nil); err != nil {
		return err
	}
	var st map[string]any
	peak := 0.0
	for {
		if ctx.Err() != nil {
			return fmt.Errorf("sync not finished within %s", timeout)
		}
		time.Sleep(200 * time.Millisecond)
		peak = max(peak, rss(node.Process.Pid, "VmRSS"))
		var out struct {
			Items []map[string]any `json:"items"`
		}
		if err := call("GET", admin+"/roaming-connection/"+connID.String()+"/sync", secret, &out); err != nil {
			return err
		}
		for _, s := range out.Items {
			if s["module"] == "locations" {
				st = s
			}
		}
		if st != nil && st["status"] == "idle" && st["requested_at"] == nil && st["last_success_started_at"] != nil {
			break
		}
		if st != nil && st["status"] == "failed" {
			return fmt.Errorf("sync failed: %v", st["last_error"])
		}
	}
	wallDur := time.Since(wall)
	hwm := rss(node.Process.Pid, "VmHWM")
	started, _ := time.Parse(time.RFC3339Nano, st["run_started_at"].(string))
	finished, _ := time.Parse(time.RFC3339Nano, st["last_finished_at"].(string))
	run := finished.Sub(started)
	var stored, storedLoc int
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM partner_evse").Scan(&stored); err != nil {
		return err
	}
	if err := d.Pool.QueryRow(ctx, "SELECT count(*) FROM partner_location").Scan(&storedLoc); err != nil {
		return err
	}
	fmt.Printf("sync run: %d pages, %v objects, %s (%.0f EVSEs/s); request to done %s\n", int(st["pages"].(float64)), st["objects"],
		run.Round(time.Millisecond), float64(stored)/run.Seconds(), wallDur.Round(time.Millisecond))
	fmt.Printf("stored: %d locations, %d EVSEs\n", storedLoc, stored)
	fmt.Printf("node memory: peak RSS (VmHWM) %.1f MB, max sampled RSS %.1f MB\n", max(hwm, peak), peak)
	ok := stored == evses && run < time.Minute && max(hwm, peak) < 300
	verdict := "PASS"
	if !ok {
		verdict = "FAIL"
	}
	fmt.Printf("target (%d EVSEs < 60 s, node < 300 MB): %s\n", evses, verdict)
	if stored != evses {
		return fmt.Errorf("stored %d EVSEs, want %d", stored, evses)
	}
	return nil
}

// seed creates our eMSP party and a registered connection to the CPO whose
// Locations sender is the fake, with the CPO's party NL-TNM.
func seed(ctx context.Context, d *dbtest.Database, base string) (uuid.UUID, error) {
	now := time.Now().UTC()
	if err := db.SaveOwnParty(ctx, d.Pool, partner.OwnParty{ID: uuid.Must(uuid.NewV7()), CountryCode: "NL", PartyID: "EMS",
		Role: partner.RoleEMSP, Name: "Bench eMSP", CreatedAt: now, UpdatedAt: now}, true); err != nil {
		return uuid.Nil, err
	}
	c := partner.Connection{ID: uuid.Must(uuid.NewV7()), Name: "bench CPO", Kind: partner.PeerToPeer, TokenBase64: true, CreatedAt: now, UpdatedAt: now}
	c.Registered(partner.NewToken(), "bench-token", base+"/ocpi/versions", "2.2.1",
		[]partner.Endpoint{{Identifier: "locations", Role: "SENDER", URL: base + "/ocpi/2.2.1/locations"}}, nil, "us", now)
	if err := db.SaveConnection(ctx, d.Pool, c, true); err != nil {
		return uuid.Nil, err
	}
	err := db.RoamingStore{Pool: d.Pool}.InTx(ctx, func(tx roaming.Tx) error {
		return tx.LinkParties(ctx, c.ID, []partner.CredentialsRole{{Role: partner.RoleCPO, CountryCode: "NL", PartyID: "TNM", Name: "Bench CPO"}})
	})
	return c.ID, err
}

// fakeCPO generates its network on the fly: it holds no list in memory.
type fakeCPO struct {
	base                           string
	locations, perLoc, evses, page int
}

func (f *fakeCPO) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	limit := f.page
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < limit {
		limit = l
	}
	end := min(offset+limit, f.locations)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Total-Count", strconv.Itoa(f.locations))
	w.Header().Set("X-Limit", strconv.Itoa(limit))
	if end < f.locations {
		w.Header().Set("Link", fmt.Sprintf("<%s%s?offset=%d&limit=%d>; rel=\"next\"", f.base, r.URL.Path, end, limit))
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"status_code":1000,"timestamp":"2024-06-01T00:00:00Z","data":[`)
	lu := "2024-06-01T00:00:00Z"
	for i := offset; i < end; i++ {
		if i > offset {
			bw.WriteByte(',')
		}
		lat := 50.75 + float64(i%1000)*0.0025
		lng := 3.36 + float64(i/1000%1000)*0.0035
		fmt.Fprintf(bw, `{"country_code":"NL","party_id":"TNM","id":"LOC%06d","publish":true,"name":"Charging plaza %d","address":"Stationsplein %d",`+
			`"city":"Utrecht","postal_code":"3511AA","country":"NLD","coordinates":{"latitude":"%.6f","longitude":"%.6f"},"parking_type":"ON_STREET",`+
			`"operator":{"name":"Bench CPO"},"time_zone":"Europe/Amsterdam","evses":[`, i, i, i%200, lat, lng)
		for e := 0; e < f.perLoc && i*f.perLoc+e < f.evses; e++ {
			if e > 0 {
				bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"uid":"LOC%06d-%d","evse_id":"NL*TNM*E%06d%d","status":"AVAILABLE","capabilities":["RFID_READER","REMOTE_START_STOP_CAPABLE"],`+
				`"connectors":[{"id":"1","standard":"IEC_62196_T2","format":"SOCKET","power_type":"AC_3_PHASE","max_voltage":230,"max_amperage":32,`+
				`"tariff_ids":["T1"],"last_updated":"%s"}],"physical_reference":"%d","floor_level":"0","last_updated":"%s"}`, i, e, i, e, lu, e+1, lu)
		}
		fmt.Fprintf(bw, `],"last_updated":"%s"}`, lu)
	}
	bw.WriteString(`]}`)
	_ = bw.Flush()
}

// rss reads a memory figure of pid in MB from /proc (VmRSS: now; VmHWM:
// the peak since the process started).
func rss(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func call(method, url, secret string, out any) error {
	req, _ := http.NewRequest(method, url, nil)
	req.SetBasicAuth("bench", secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, body)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

func waitReady(url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("node not ready at %s within %s", url, within)
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}
