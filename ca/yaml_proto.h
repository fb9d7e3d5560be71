// The YAML→proto mapper moved to //base:yaml_proto so that the gateway can
// read its config with it too; the CA keeps using it by these names.
#ifndef SALLYPORT_CA_YAML_PROTO_H_
#define SALLYPORT_CA_YAML_PROTO_H_

#include "base/yaml_proto.h"

namespace sallyport::ca {

using base::YamlFileToProto;
using base::YamlToProto;

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_YAML_PROTO_H_
