// Package openapitest holds the test that checks the api package's OpenAPI
// document against the real handler: every route's requests and responses,
// success and documented errors, validated against the document with
// github.com/pb33f/libopenapi-validator. It is a module of its own so that
// the validator stays out of the library's go.mod.
package openapitest
