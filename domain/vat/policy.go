package vat

import (
	"fmt"
	"sort"

	"github.com/roamnode/roamnode/domain/fault"
)

// CountryPolicy is a seller's VAT policy for one foreign country. "Sellers
// can choose to use the VAT of the origin country (e.g., the location of a
// charge session) or the VAT from the seller’s local country" (guide, "VAT
// Country determination").
type CountryPolicy string

// The two country policies of the guide.
const (
	// PolicyOriginCountry: use the VAT of the origin country.
	PolicyOriginCountry CountryPolicy = "origin_country"
	// PolicySellerCountry: use the VAT of the seller's country.
	PolicySellerCountry CountryPolicy = "seller_country"
)

// Fallback is what happens when a seller has no policy for a country: "it
// can either be flagged as an error that needs resolution or default to the
// seller’s VAT country. This behavior is configurable for each seller"
// (guide, "VAT Country determination").
type Fallback string

// The two fallbacks of the guide.
const (
	// FallbackError flags a missing policy as an error (the item drops out
	// with CodeCountryUndetermined).
	FallbackError Fallback = "error"
	// FallbackSellerCountry applies the seller's VAT country.
	FallbackSellerCountry Fallback = "seller_country"
)

// SellerPolicy is the VAT configuration of one seller (an MSP or CPO
// administration): "Each seller within TandemDrive can set VAT policies for
// different countries" (guide, "VAT Country determination").
type SellerPolicy struct {
	// Country is the seller's own VAT country (ISO 3166-1 alpha-2).
	Country string
	// Policies maps a foreign country (alpha-2) to its policy.
	Policies map[string]CountryPolicy
	// Fallback applies to countries without a policy.
	Fallback Fallback
	// EUReverseCharge enables the EU reverse-charge override. The guide
	// names the override ("EU reverse charge applies", "Determining VAT")
	// but does not say when it applies, so it is off unless the seller
	// enables it. When enabled, an item is reverse charged when all of these
	// hold (the business-to-business rule of Council Directive 2006/112/EC,
	// art. 196): the determined VAT country is an EU member state; the
	// customer is a business with a VAT number; the customer's country is
	// another EU member state than the VAT country. VAT numbers are not
	// checked against VIES here.
	EUReverseCharge bool
}

// Validate checks the policy and reports every problem at once.
func (p SellerPolicy) Validate() error {
	var fs fault.Fields
	if _, ok := NormalizeCountry(p.Country); !ok {
		fs.Add("seller.country", "must be an ISO 3166-1 alpha-2 country code, got %q", p.Country)
	}
	switch p.Fallback {
	case FallbackError, FallbackSellerCountry:
	default:
		fs.Add("seller.fallback", "must be %q or %q, got %q", FallbackError, FallbackSellerCountry, p.Fallback)
	}
	for _, c := range sortedKeys(p.Policies) {
		if _, ok := NormalizeCountry(c); !ok {
			fs.Add("seller.policies."+c, "key must be an ISO 3166-1 alpha-2 country code")
		}
		switch p.Policies[c] {
		case PolicyOriginCountry, PolicySellerCountry:
		default:
			fs.Add("seller.policies."+c, "must be %q or %q, got %q", PolicyOriginCountry, PolicySellerCountry, p.Policies[c])
		}
	}
	return fs.Err()
}

// policyFor looks a country up case-insensitively.
func (p SellerPolicy) policyFor(country string) (CountryPolicy, bool) {
	if pol, ok := p.Policies[country]; ok {
		return pol, true
	}
	for k, pol := range p.Policies {
		if n, _ := NormalizeCountry(k); n == country {
			return pol, true
		}
	}
	return "", false
}

// VATCountry determines the VAT country for an item whose origin is origin
// (for a charge session: the country of the charge location). It implements
// step 1 of "Determining VAT" (guide, "VAT Country determination"):
//
//   - an origin equal to the seller's country, or no origin at all (e.g. a
//     subscription fee, or an MSP charge session whose CDR has no country),
//     is not foreign: the seller's country;
//   - a foreign origin with a policy: the origin country or the seller's
//     country as the policy says;
//   - a foreign origin without a policy: the seller's Fallback, either the
//     seller's country or a CodeCountryUndetermined conflict.
//
// It returns the country and a human-readable explanation. The policy is
// assumed valid (see Validate).
func (p SellerPolicy) VATCountry(origin string) (string, string, error) {
	seller, _ := NormalizeCountry(p.Country)
	if origin == "" {
		return seller, fmt.Sprintf("no origin country; seller's VAT country %s", seller), nil
	}
	origin, _ = NormalizeCountry(origin)
	if origin == seller {
		return seller, fmt.Sprintf("origin country %s is the seller's VAT country", origin), nil
	}
	if pol, ok := p.policyFor(origin); ok {
		if pol == PolicyOriginCountry {
			return origin, fmt.Sprintf("seller policy for %s is to use the origin country: VAT country %s", origin, origin), nil
		}
		return seller, fmt.Sprintf("seller policy for %s is to use the seller's country: VAT country %s", origin, seller), nil
	}
	if p.Fallback == FallbackSellerCountry {
		return seller, fmt.Sprintf("no seller policy for %s; fallback to the seller's VAT country %s", origin, seller), nil
	}
	return "", "", fault.Conflict(CodeCountryUndetermined,
		"VAT country cannot be determined: the seller (VAT country %s) has no VAT policy for origin country %s and its fallback is to flag an error", seller, origin)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
