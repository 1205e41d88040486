// Package hdf5 reads and writes the small subset of HDF5
// (https://docs.hdfgroup.org/hdf5/develop/_f_m_t3.html) that Keras and h5py
// use for weights files, in pure Go.
//
// Reading covers superblock versions 0 to 3 (h5py's default and its
// libver="latest", which HDF5 1.10 writes as version 3), object headers
// versions 1 and 2, groups stored as symbol tables (version 1 B-tree and
// local heap) or as link messages, compact or dense (fractal heap indexed
// by a version 2 B-tree, which libhdf5 uses past 8 links with
// libver="latest", and for any group holding an external link), attributes
// stored compactly or densely, compact, contiguous and chunked datasets
// (version 1 B-tree, single-chunk, implicit and fixed-array chunk indexes;
// deflate, shuffle and fletcher32 filters), little-endian IEEE float32 and
// float64 elements, and attributes holding fixed-length strings,
// variable-length strings (global heap), arrays of either, and float
// arrays, empty ones included. Everything else (integer, big-endian,
// half-precision, compound and variable-length sequence types; soft and
// external links; extensible-array and version 2 B-tree chunk indexes,
// i.e. datasets with unlimited dimensions written with libver="latest";
// filters other than the three; paged fixed arrays of more than 1024
// chunks; huge fractal heap objects; shared messages; user blocks; sizes of
// offsets and lengths other than 8) is an error wrapping ErrUnsupported
// that names what is not supported.
//
// Writing (Writer) produces superblock 0, version 1 object headers,
// symbol-table groups, contiguous float datasets and fixed-length string or
// float attributes: what Keras 2.2.4's save_weights writes with h5py.
//
// Hostile files cost little: every offset, size and count is checked
// against the file's size before it is used, everything read or decoded is
// counted against a budget (Options.MaxReadBytes), B-tree nodes, heap
// blocks and header continuations reached twice are refused, and depths and
// counts are bounded. Errors are *Error values naming the file, the object
// and the offset.
//
// The package imports only the standard library.
//
// May import: nothing from descent.
package hdf5
