package module_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/roamnode/roamnode/db"
	"github.com/roamnode/roamnode/db/dbtest"
	"github.com/roamnode/roamnode/db/gen"
	"github.com/roamnode/roamnode/domain/access"
	"github.com/roamnode/roamnode/node"
	"github.com/roamnode/roamnode/ocpi/module"
	"github.com/roamnode/roamnode/roaming"
	"github.com/roamnode/roamnode/worker"
)

// liveNode is a roamnode with its own database, its own Redis database
// (so that the two nodes' workers never take each other's tasks, nor other
// test packages' workers theirs: asynq has no namespace; databases 11 and
// 14 are not used by other tests or scripts), a real
// listener that can be stopped and started again on the same address, and
// a real worker.
type liveNode struct {
	*instance
	deps node.Deps
	addr string
	app  *fiber.App
}

// extra are further worker registrations (the session pipeline, say).
func startLive(t *testing.T, cc, pid, role string, redisDB int, extra ...worker.Registration) *liveNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := dbtest.New(ctx)
	require.NoError(t, err)
	t.Cleanup(d.Close)
	rdb := redis.NewClient(dbtest.RedisDB(redisDB))
	t.Cleanup(func() { rdb.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	base := "http://" + ln.Addr().String()
	xlog := db.NewExchangeLog(d.Pool, testLog(), 1000)
	n := &liveNode{addr: ln.Addr().String(), deps: node.Deps{Pool: d.Pool, Redis: rdb, Log: testLog(), Version: "t", PublicURL: base,
		Recorder: xlog, Client: roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}}}
	n.serve(ln)
	wd := worker.Deps{Pool: d.Pool, Redis: rdb, Log: testLog()}
	push := worker.PushOptions{PushOptions: roaming.PushOptions{BackoffMin: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond},
		Client: roaming.Options{Timeout: 2 * time.Second, MaxRetries: -1}, SweepEvery: time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		regs := append([]worker.Registration{worker.Push(push, func(d worker.Deps) map[string]roaming.Renderer { return module.PushRenderers(d.Pool) }),
			worker.TokenBoundaries(worker.TokenBoundaryOptions{Every: time.Second})}, extra...)
		_ = worker.Run(ctx, wd, worker.Options{Concurrency: 4, ShutdownTimeout: 2 * time.Second}, regs...)
	}()
	t.Cleanup(func() { cancel(); <-done; n.stop(); xlog.Close() })
	n.instance = &instance{t: t, db: d, base: base, user: "admin", secret: access.NewSecret(), log: xlog}
	require.NoError(t, db.Q(d.Pool).UpsertBootstrapAccount(ctx, gen.UpsertBootstrapAccountParams{
		ID: uuid.Must(uuid.NewV7()), PublicID: n.user, SecretHash: access.HashSecret(n.secret), CreatedAt: time.Now()}))
	n.admin(201, "POST", "/main/v1/own-party", map[string]any{"country_code": cc, "party_id": pid, "role": role, "name": cc + "-" + pid + " B.V."})
	return n
}

func (n *liveNode) serve(ln net.Listener) {
	n.app = node.App(n.deps)
	go func() { _ = n.app.Listener(ln) }()
}

// stop closes the node's listener: partners get connection refused.
func (n *liveNode) stop() {
	if n.app != nil {
		_ = n.app.ShutdownWithTimeout(2 * time.Second)
		n.app = nil
	}
}

// restart listens again on the same address.
func (n *liveNode) restart() {
	n.t.Helper()
	var ln net.Listener
	waitFor(n.t, func() bool {
		var err error
		ln, err = net.Listen("tcp", n.addr)
		return err == nil
	})
	n.serve(ln)
}

var debugNet func()

// eventually polls cond for up to 20 s (pushes go through the worker).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if debugNet != nil {
				debugNet()
			}
			t.Fatalf("%s: not within 20 s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// evseStatus is the status of EVSE uid of the partner location as node n
// received it ("" when not there).
func evseStatus(n *liveNode, locationID, uid string) string {
	items := n.admin(200, "GET", "/main/v1/partner-evse-location?location_id="+locationID, nil)["items"].([]any)
	for _, it := range items {
		loc := it.(map[string]any)["location"].(map[string]any)
		evses, _ := loc["evses"].([]any)
		for _, e := range evses {
			if e := e.(map[string]any); e["uid"] == uid {
				return e["status"].(string)
			}
		}
	}
	return ""
}

// tariffText is the first alt text of a partner tariff at n ("" when absent).
func tariffText(n *liveNode, id string) (string, bool) {
	items := n.admin(200, "GET", "/main/v1/partner-tariff?tariff_id="+id, nil)["items"].([]any)
	if len(items) == 0 {
		return "", false
	}
	raw, _ := items[0].(map[string]any)["tariff"].(map[string]any)
	alt, _ := raw["tariff_alt_text"].([]any)
	if len(alt) == 0 {
		return "", true
	}
	return alt[0].(map[string]any)["text"].(string), true
}

// cpoDecision asks the CPO node whether the token may charge.
func cpoDecision(n *liveNode, uid string) map[string]any {
	return n.admin(200, "POST", "/main/v1/cpo-token-authorization", map[string]any{"token_uid": uid, "token_type": "RFID", "location_id": "NET-LOC1"})
}

// TestTwoNodeNetwork runs a CPO node and an eMSP node registered with each
// other, each with its worker, and shows master data propagating both ways
// by push, and the eMSP catching up after it was down.
func TestTwoNodeNetwork(t *testing.T) {
	cpo := startLive(t, "NL", "CPN", "CPO", dbtest.RedisDBNetworkCPO)
	emsp := startLive(t, "NL", "RNE", "EMSP", dbtest.RedisDBNetworkMSP)

	debugNet = func() {
		for _, n := range []*liveNode{cpo, emsp} {
			rows, _ := n.db.Pool.Query(context.Background(), "SELECT direction||' '||method||' '||url||' '||coalesce(http_status,0)::text||' '||left(coalesce(response_body::text,''),200)||' '||coalesce(error,'') FROM roaming_exchange ORDER BY at")
			for rows.Next() {
				var m string
				_ = rows.Scan(&m)
				t.Log(m)
			}
			rows.Close()
			gs, _ := db.PendingPushes(context.Background(), n.db.Pool, 100)
			t.Logf("pending %+v", gs)
		}
	}
	// Registration: the CPO's operator issues token A, the eMSP registers.
	ca := cpo.admin(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "to eMSP", "kind": "peer_to_peer"})
	ce := emsp.admin(201, "POST", "/main/v1/roaming-connection", map[string]any{"name": "to CPO", "kind": "peer_to_peer"})
	reg := emsp.admin(200, "POST", "/main/v1/roaming-connection/"+ce["id"].(string)+"/register",
		map[string]any{"versions_url": ca["versions_url"], "token": ca["token_a"]})
	require.Equal(t, "registered", reg["status"])
	// The CPO lets the eMSP's drivers charge (roaming agreement, role cpo).
	for _, p := range cpo.admin(200, "GET", "/main/v1/roaming-partner?party=NL-RNE", nil)["items"].([]any) {
		cpo.admin(201, "POST", "/main/v1/roaming-agreement", map[string]any{"partner_id": p.(map[string]any)["id"], "role": "cpo",
			"valid_from": "2020-01-01T00:00:00Z"})
	}

	// A location with an EVSE and a tariff on the CPO reach the eMSP.
	cpo.admin(201, "POST", "/main/v1/cpo-evse-location/NET-LOC1", map[string]any{"country_code": "NL", "party_id": "CPN",
		"address": "Stationsplein 1", "city": "Utrecht", "country": "NLD", "time_zone": "Europe/Amsterdam",
		"coordinates": map[string]any{"latitude": "52.089444", "longitude": "5.110278"}, "opening_times": map[string]any{"twentyfourseven": true}})
	conn := map[string]any{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
		"max_amperage": 32, "max_electric_power": 22000, "tariff_ids": []string{"NET-T1"}}
	cpo.admin(201, "POST", "/main/v1/cpo-evse/NET-E1", map[string]any{"location_id": "NET-LOC1", "status": "AVAILABLE",
		"evse_id": "NL*CPN*ENET1", "connectors": []any{conn}})
	el := []any{map[string]any{"price_components": []any{map[string]any{"type": "ENERGY", "price": 0.25, "step_size": 1}}}}
	cpo.admin(201, "POST", "/main/v1/cpo-tariff/NET-T1", map[string]any{"country_code": "NL", "party_id": "CPN", "currency": "EUR",
		"type": "REGULAR", "elements": el, "tariff_alt_text": []any{map[string]any{"language": "en", "text": "0.25/kWh"}}})
	eventually(t, "location at the eMSP", func() bool { return evseStatus(emsp, "NET-LOC1", "NET-E1") == "AVAILABLE" })
	eventually(t, "tariff at the eMSP", func() bool { s, _ := tariffText(emsp, "NET-T1"); return s == "0.25/kWh" })

	// A status flip and a tariff change propagate.
	cpo.admin(200, "POST", "/main/v1/cpo-evse/NET-E1", map[string]any{"status": "CHARGING"})
	cpo.admin(200, "POST", "/main/v1/cpo-tariff/NET-T1", map[string]any{"tariff_alt_text": []any{map[string]any{"language": "en", "text": "0.30/kWh"}}})
	eventually(t, "status flip at the eMSP", func() bool { return evseStatus(emsp, "NET-LOC1", "NET-E1") == "CHARGING" })
	eventually(t, "tariff change at the eMSP", func() bool { s, _ := tariffText(emsp, "NET-T1"); return s == "0.30/kWh" })

	// The eMSP issues a token: the CPO caches it and allows it; blocking
	// it on the eMSP makes the CPO deny it.
	f := newMSPFixture(emsp.instance)
	sub := f.subscription(at(-time.Hour), "")
	tok := f.token("NET0001", map[string]any{"type": "RFID"})
	link := f.link(tok, sub, "", "", nil)
	partnerValid := func() (bool, bool) {
		items := cpo.admin(200, "GET", "/main/v1/partner-token?uid=NET0001", nil)["items"].([]any)
		if len(items) == 0 {
			return false, false
		}
		return items[0].(map[string]any)["valid"].(bool), true
	}
	eventually(t, "token at the CPO", func() bool { v, ok := partnerValid(); return ok && v })
	d0 := cpoDecision(cpo, "NET0001")
	require.Equal(t, true, d0["allowed"], "%v", d0)
	emsp.admin(200, "POST", "/main/v1/msp-token-link/"+link, map[string]any{"defunct": true})
	eventually(t, "token block at the CPO", func() bool { v, ok := partnerValid(); return ok && !v })
	d := cpoDecision(cpo, "NET0001")
	require.Equal(t, false, d["allowed"], "%v", d)

	// The eMSP goes down; changes on the CPO wait and are retried.
	emsp.stop()
	cpo.admin(200, "POST", "/main/v1/cpo-evse/NET-E1", map[string]any{"status": "OUTOFORDER"})
	cpo.admin(200, "POST", "/main/v1/cpo-tariff/NET-T1", map[string]any{"tariff_alt_text": []any{map[string]any{"language": "en", "text": "0.35/kWh"}}})
	eventually(t, "failed attempts recorded", func() bool {
		gs, err := db.PendingPushes(context.Background(), cpo.db.Pool, 100)
		require.NoError(t, err)
		failed := 0
		for _, g := range gs {
			if g.Attempts > 0 {
				failed++
			}
		}
		return failed == 2
	})
	time.Sleep(time.Second) // down for a while: a few retries fail
	emsp.restart()
	eventually(t, "eMSP caught up on the status", func() bool { return evseStatus(emsp, "NET-LOC1", "NET-E1") == "OUTOFORDER" })
	eventually(t, "eMSP caught up on the tariff", func() bool { s, _ := tariffText(emsp, "NET-T1"); return s == "0.35/kWh" })
	eventually(t, "nothing pending at the CPO", func() bool {
		gs, err := db.PendingPushes(context.Background(), cpo.db.Pool, 100)
		require.NoError(t, err)
		return len(gs) == 0
	})
}
