package adminapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"

	"github.com/gofiber/fiber/v2"

	"github.com/roamnode/roamnode/domain/access"
)

// systemKey marks requests of the in-process system client.
type systemKey struct{}

// systemAccount holds every permission on every administration. It exists
// only in memory and only on the internal app, which no listener serves.
var systemAccount = access.Account{PublicID: "system", Name: "system", Permissions: []string{access.All}, AllAdministrations: true}

// Internal is an in-process client of the Admin API acting as the system,
// for commands such as `roamnode seed demo`: it goes through exactly the same
// handlers, validation and outbox as an integrator's request.
type Internal struct{ app *fiber.App }

// Internal returns the system client.
func (a *API) Internal() *Internal {
	app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: func(c *fiber.Ctx, err error) error {
		return WriteError(c, err, a.log)
	}})
	app.Use(func(c *fiber.Ctx) error {
		c.Locals(systemKey{}, systemAccount)
		return c.Next()
	})
	a.Mount(app)
	return &Internal{app: app}
}

// Do sends one request and returns the status and body.
func (in *Internal) Do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	res, err := in.app.Test(req, -1)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res.StatusCode, out, err
}
