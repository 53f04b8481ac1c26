# An existing server, by its VPC instance id. user_data is not returned by the API: after the
# import it is taken from the configuration without replacing the server.
terraform import hyperprotect_instance.web 0717_5a8e2f4c-3b1d-4e6f-9a0b-1c2d3e4f5a6b
