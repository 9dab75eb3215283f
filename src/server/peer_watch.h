// Client-disconnect detection for requests whose handler blocks (non-streaming generation):
// cpp-httplib does not expose the connection's socket to handlers, so it is found once by its
// address pair, then polled for a peer close (FIN/RST) without consuming any data.
#pragma once

#include <string>

namespace hearth::server {

// The connected TCP socket of this process whose local port and peer address/port match; -1 when
// none is found.
int find_connection_socket(const std::string& remote_addr, int remote_port, int local_port);

// True when the peer has closed or reset the connection (pending request bytes don't count).
bool peer_closed(int fd);

}  // namespace hearth::server
