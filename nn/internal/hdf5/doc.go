// Package hdf5 reads and writes the small subset of HDF5
// (https://docs.hdfgroup.org/hdf5/develop/_f_m_t3.html) that Keras and h5py
// use for weights files, in pure Go.
//
// Reading covers superblock versions 0 to 3 (h5py's default and its
// libver="latest"), object headers versions 1 and 2, groups stored as
// symbol tables (version 1 B-tree and local heap) or as link messages,
// compact, contiguous and chunked datasets (version 1 B-tree, single-chunk,
// implicit and fixed-array chunk indexes; deflate, shuffle and fletcher32
// filters), little-endian IEEE float32 and float64 elements, and attributes
// holding fixed-length strings, variable-length strings (global heap),
// arrays of either, and float arrays, empty ones included. Everything else
// is an error wrapping ErrUnsupported that names what is not supported.
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
package hdf5
