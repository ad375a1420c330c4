"""Clients for services the tasks talk to directly (not through a CLI): the Proxmox host over SSH."""
