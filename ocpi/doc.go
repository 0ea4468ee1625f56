// Package ocpi is the OCPI 2.2.1 wire protocol: the JSON types of every
// module, the response envelope and status codes, token authentication,
// pagination, routing headers, and one file per module handler. It maps wire
// values to domain values and back; business rules live in domain/.
package ocpi
