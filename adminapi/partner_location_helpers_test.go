package adminapi_test

import (
	"github.com/roamnode/roamnode/domain/network"
	"github.com/roamnode/roamnode/ocpi"
)

func decodeNetworkLocation(b []byte) (network.Location, error) {
	l, err := ocpi.DecodeLocation(b)
	if err != nil {
		return network.Location{}, err
	}
	return l.ToNetwork()
}
