// A module of its own, as a user's repository would be: scripts/consumer.sh
// copies this folder out of the tree, points the replace below at the
// checkout, exports the options, generates with buf and with protoc, and
// runs its tests. Nothing here is built by the main module.
module example.com/shop

go 1.26

require github.com/grpcauth/protoc-gen-go-grpcauth v0.1.0

replace github.com/grpcauth/protoc-gen-go-grpcauth => ../..
