package db

// Test hooks of the group token lookup's raw row decoder.
const LookupIssuedTokensSQL = lookupIssuedTokens

var (
	LookupRawColumns = lookupRawColumns
	DecodeLookupRow  = decodeLookupRow
)

type IssuedRow = issuedRow
