package network

import "math"

// EarthRadiusM is the mean Earth radius (IUGG), the sphere on which
// distances are computed; the error against the WGS 84 ellipsoid is at most
// about 0.5 %, well below what "near a point" needs.
const EarthRadiusM = 6371008.8

// Distance is the great-circle (haversine) distance in metres between two
// points in decimal degrees. The database computes the same formula; this
// one is for tests and callers holding coordinates.
func Distance(lat1, lng1, lat2, lng2 float64) float64 {
	rad := math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlng := (lng2 - lng1) * rad
	h := math.Pow(math.Sin(dlat/2), 2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Pow(math.Sin(dlng/2), 2)
	return 2 * EarthRadiusM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Box is a bounding box that contains every point within a radius of a
// centre: latitudes [LatMin, LatMax] and longitudes in [LngMin, LngMax] or
// [LngMin2, LngMax2] (the second range is used when the box crosses the
// antimeridian, otherwise it repeats the first).
type Box struct {
	LatMin, LatMax   float64
	LngMin, LngMax   float64
	LngMin2, LngMax2 float64
}

// BoundingBox returns a box around (lat, lng) holding every point within
// radiusM metres, for an index prefilter before the exact distance test.
// Near a pole (the circle contains it) every longitude qualifies.
func BoundingBox(lat, lng, radiusM float64) Box {
	dlat := radiusM / EarthRadiusM * 180 / math.Pi
	b := Box{LatMin: math.Max(-90, lat-dlat), LatMax: math.Min(90, lat+dlat)}
	if lat+dlat >= 90 || lat-dlat <= -90 {
		b.LngMin, b.LngMax, b.LngMin2, b.LngMax2 = -180, 180, -180, 180
		return b
	}
	// The widest longitude span is at the latitude where the circle is
	// tangent to a meridian: asin(sin(r)/cos(lat)).
	r := radiusM / EarthRadiusM
	s := math.Sin(r) / math.Cos(lat*math.Pi/180)
	if s >= 1 {
		b.LngMin, b.LngMax, b.LngMin2, b.LngMax2 = -180, 180, -180, 180
		return b
	}
	dlng := math.Asin(s) * 180 / math.Pi
	lo, hi := lng-dlng, lng+dlng
	switch {
	case lo < -180:
		b.LngMin, b.LngMax, b.LngMin2, b.LngMax2 = -180, hi, lo+360, 180
	case hi > 180:
		b.LngMin, b.LngMax, b.LngMin2, b.LngMax2 = lo, 180, -180, hi-360
	default:
		b.LngMin, b.LngMax, b.LngMin2, b.LngMax2 = lo, hi, lo, hi
	}
	return b
}

// Contains reports whether the box holds the point.
func (b Box) Contains(lat, lng float64) bool {
	if lat < b.LatMin || lat > b.LatMax {
		return false
	}
	return (lng >= b.LngMin && lng <= b.LngMax) || (lng >= b.LngMin2 && lng <= b.LngMax2)
}
