package ocpi

import (
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Status codes of OCPI 2.2.1 (status_codes.asciidoc).
const (
	StatusSuccess          = 1000 // generic success
	StatusClientError      = 2000 // generic client error
	StatusInvalidParams    = 2001 // invalid or missing parameters
	StatusNotEnoughInfo    = 2002 // not enough information
	StatusUnknownLocation  = 2003 // unknown location
	StatusUnknownToken     = 2004 // unknown token
	StatusServerError      = 3000 // generic server error
	StatusUnableToUseAPI   = 3001 // unable to use the client's API
	StatusUnsupportedVer   = 3002 // unsupported version
	StatusNoMatchEndpoints = 3003 // no matching endpoints
	StatusHubError         = 4000 // generic hub error
)

// Response is the envelope of every OCPI response (transport_and_format →
// Response format): data, status_code, status_message, timestamp.
type Response struct {
	Data          any      `json:"data,omitempty"`
	StatusCode    int      `json:"status_code"`
	StatusMessage string   `json:"status_message,omitempty"`
	Timestamp     DateTime `json:"timestamp"`
}

// Error is an OCPI error: an HTTP status and an OCPI status code.
type Error struct {
	HTTP    int
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// WriteError is the one mapper from errors to OCPI responses on the /ocpi
// surface: every answer, errors included, is an envelope, because partners
// parse status_code before anything else. Unknown routes are HTTP 404 with
// a 2000 envelope; anything unexpected is a 3000 without internals.
func WriteError(c *fiber.Ctx, err error, log *slog.Logger) error {
	var oe *Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &oe):
	case errors.As(err, &fe) && fe.Code < 500:
		oe = &Error{HTTP: fe.Code, Code: StatusClientError, Message: fe.Message}
	default:
		log.Error("ocpi request failed", "method", c.Method(), "path", c.Path(), "err", err)
		oe = &Error{HTTP: fiber.StatusInternalServerError, Code: StatusServerError, Message: "internal error"}
	}
	return c.Status(oe.HTTP).JSON(Response{StatusCode: oe.Code, StatusMessage: oe.Message, Timestamp: NewDateTime(time.Now())})
}
