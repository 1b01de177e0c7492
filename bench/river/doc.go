// Package river holds the benchmarks that compare the library's durable
// outbox with River (github.com/riverqueue/river) on the same PostgreSQL
// server. It is a module of its own so that River never reaches the
// library's go.sum.
package river
