# A Gentoo stage3 holding the demo ebuild repository the end-to-end suite builds from (tests/Fixtures/portage/ebuild-repo),
# at /var/db/repos/demo, where a repository with syncType none is read. Built by prepare-images.sh.
ARG STAGE3=docker.io/gentoo/stage3:latest
FROM ${STAGE3}
COPY ebuild-repo/ /var/db/repos/demo/
