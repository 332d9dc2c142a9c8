// OpenLDAP's client library (Debian: libldap-dev). LDAP_DEPRECATED stays off: only
// the ldap_*_ext and ldap_sasl_bind interfaces are used.
#include <ldap.h>
