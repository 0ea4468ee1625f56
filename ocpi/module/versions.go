package module

import (
	"github.com/gofiber/fiber/v2"

	"github.com/roamnode/roamnode/ocpi"
)

// versions is GET /ocpi/versions (version_information_endpoint): the
// versions we speak, each with its details URL. Token A may call it.
func (s *Server) versions(c *fiber.Ctx) error {
	return ocpi.OK(c, []ocpi.Version{{Version: ocpi.Version221, URL: s.Base()}})
}

// endpoints lists every module endpoint we serve, with its role. Our paths
// follow DESIGN.md: configuration modules at /ocpi/2.2.1/<module>, role
// modules at /ocpi/2.2.1/cpo/<module> and /ocpi/2.2.1/emsp/<module>.
func (s *Server) endpoints() []ocpi.Endpoint {
	b := s.Base()
	return []ocpi.Endpoint{
		{Identifier: ocpi.ModuleCredentials, Role: ocpi.InterfaceSender, URL: b + "/credentials"},
		{Identifier: ocpi.ModuleCredentials, Role: ocpi.InterfaceReceiver, URL: b + "/credentials"},
		{Identifier: ocpi.ModuleHubClientInfo, Role: ocpi.InterfaceSender, URL: b + "/hubclientinfo"},
		{Identifier: ocpi.ModuleHubClientInfo, Role: ocpi.InterfaceReceiver, URL: b + "/hubclientinfo"},
		{Identifier: ocpi.ModuleLocations, Role: ocpi.InterfaceSender, URL: b + "/cpo/locations"},
		{Identifier: ocpi.ModuleTariffs, Role: ocpi.InterfaceSender, URL: b + "/cpo/tariffs"},
		{Identifier: ocpi.ModuleSessions, Role: ocpi.InterfaceSender, URL: b + "/cpo/sessions"},
		{Identifier: ocpi.ModuleCDRs, Role: ocpi.InterfaceSender, URL: b + "/cpo/cdrs"},
		{Identifier: ocpi.ModuleCDRs, Role: ocpi.InterfaceReceiver, URL: b + "/emsp/cdrs"},
		{Identifier: ocpi.ModuleTokens, Role: ocpi.InterfaceSender, URL: b + "/emsp/tokens"},
		{Identifier: ocpi.ModuleTokens, Role: ocpi.InterfaceReceiver, URL: b + "/cpo/tokens"},
		{Identifier: ocpi.ModuleLocations, Role: ocpi.InterfaceReceiver, URL: b + "/emsp/locations"},
		{Identifier: ocpi.ModuleTariffs, Role: ocpi.InterfaceReceiver, URL: b + "/emsp/tariffs"},
		{Identifier: ocpi.ModuleSessions, Role: ocpi.InterfaceReceiver, URL: b + "/emsp/sessions"},
	}
}

// versionDetails is GET /ocpi/2.2.1 (version_information_endpoint →
// version details).
func (s *Server) versionDetails(c *fiber.Ctx) error {
	return ocpi.OK(c, ocpi.VersionDetails{Version: ocpi.Version221, Endpoints: s.endpoints()})
}
