package module

import (
	"github.com/gofiber/fiber/v2"

	"github.com/roamnode/roamnode/ocpi"
)

// getCredentials is GET /ocpi/2.2.1/credentials: our credentials object for
// the caller, carrying the token it already uses (nothing new is revealed).
func (s *Server) getCredentials(c *fiber.Ctx) error {
	creds, err := s.registrar.OurCredentials(c.UserContext(), presentedToken(c))
	if err != nil {
		return err
	}
	return ocpi.OK(c, creds)
}

// presentedToken is the token the caller authenticated with.
func presentedToken(c *fiber.Ctx) string {
	if t, ok := ocpi.TokenFromHeader(c.Get(fiber.HeaderAuthorization)); ok {
		return t
	}
	return ""
}

func decodeCredentials(c *fiber.Ctx) (ocpi.Credentials, error) {
	var creds ocpi.Credentials
	err := ocpi.Decode(c.Body(), &creds)
	return creds, err
}

// postCredentials is POST /ocpi/2.2.1/credentials (credentials → POST): the
// partner registers with token A; we fetch its endpoints with its token and
// answer with a new token for it. 405 when already registered.
func (s *Server) postCredentials(c *fiber.Ctx) error {
	creds, err := decodeCredentials(c)
	if err != nil {
		return err
	}
	out, err := s.registrar.AcceptRegistration(c.UserContext(), callerOf(c).conn.ID, creds)
	if err != nil {
		return err
	}
	return ocpi.OK(c, out)
}

// putCredentials is PUT /ocpi/2.2.1/credentials (credentials → PUT): new
// token and endpoints of a registered partner; it gets a new token from us.
func (s *Server) putCredentials(c *fiber.Ctx) error {
	creds, err := decodeCredentials(c)
	if err != nil {
		return err
	}
	out, err := s.registrar.AcceptUpdate(c.UserContext(), callerOf(c).conn.ID, creds)
	if err != nil {
		return err
	}
	return ocpi.OK(c, out)
}

// deleteCredentials is DELETE /ocpi/2.2.1/credentials: unregistration.
func (s *Server) deleteCredentials(c *fiber.Ctx) error {
	if err := s.registrar.AcceptUnregistration(c.UserContext(), callerOf(c).conn.ID); err != nil {
		return err
	}
	return ocpi.OK(c, nil)
}
