# Chapter 01: plain HTTP. Programs and run targets.
$(eval $(call prog,01-server,01_plain_http/server.c))
$(eval $(call prog,01-client,01_plain_http/client.c))
