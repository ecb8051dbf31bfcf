package main

// sysUserfaultfd is userfaultfd(2)'s system call number on amd64.
const sysUserfaultfd = 323
